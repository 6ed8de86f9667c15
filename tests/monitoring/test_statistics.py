"""The distances on constructed samples: zero for the same data, small for a resample, large for a shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gitops_ml.monitoring import statistics as stats

RNG_SEED = 7


def normal(n: int, mean: float = 0.0, sd: float = 1.0, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


def distances(reference: np.ndarray, window: np.ndarray, bins: int = 10) -> stats.NumericDistances:
    return stats.numeric_distances(reference, window, stats.quantile_edges(reference, bins))


def test_psi_matches_the_formula_on_small_counts() -> None:
    ref, win = np.array([50, 50]), np.array([80, 20])
    r = (ref + 0.5) / (ref + 0.5).sum()
    w = (win + 0.5) / (win + 0.5).sum()
    assert stats.psi(ref, win) == pytest.approx(float(np.sum((w - r) * np.log(w / r))))
    assert stats.psi(ref, ref) == 0.0
    assert stats.psi(ref, win) == pytest.approx(stats.psi(win, ref))  # symmetric
    assert np.isfinite(stats.psi(np.array([100, 0]), np.array([0, 100])))  # empty bins stay finite


def test_quantile_edges_make_equal_bins_and_collapse_ties() -> None:
    edges = stats.quantile_edges(np.arange(1000, dtype=float), 10)
    assert len(edges) == 9
    assert stats.bin_counts(np.arange(1000, dtype=float), edges).tolist() == [100] * 10
    mostly_zero = np.array([0.0] * 900 + [1.0, 2.0] * 50)
    edges = stats.quantile_edges(mostly_zero, 10)
    assert len(edges) == 2  # nine quantiles, two distinct: the zeros get a bin of their own
    assert stats.bin_counts(mostly_zero, edges).tolist() == [0, 900, 100]
    assert stats.quantile_edges(np.array([]), 10).size == 0


def test_bin_counts_put_edge_values_in_the_upper_bin() -> None:
    counts = stats.bin_counts(np.array([-5.0, 1.0, 1.5, 2.0, 9.0]), np.array([1.0, 2.0]))
    assert counts.tolist() == [1, 2, 2]


def test_same_data_has_zero_distance() -> None:
    sample = normal(2000)
    found = distances(sample, sample)
    assert found.psi == pytest.approx(0.0, abs=1e-12)
    assert found.wasserstein == pytest.approx(0.0, abs=1e-12)
    assert found.ks == pytest.approx(0.0, abs=1e-12)
    assert sum(found.histogram.reference) == pytest.approx(1.0)
    assert found.histogram.reference == pytest.approx(found.histogram.window)


def test_a_resample_of_the_same_distribution_stays_under_the_default_thresholds() -> None:
    found = distances(normal(15_000, seed=1), normal(500, seed=2))
    assert found.psi is not None and found.psi < 0.1
    assert found.wasserstein is not None and found.wasserstein < 0.2
    assert found.ks is not None and found.ks < 0.15


def test_a_shift_of_one_standard_deviation_is_far() -> None:
    reference = normal(15_000, mean=10, sd=3, seed=1)
    found = distances(reference, normal(500, mean=13, sd=3, seed=2))
    assert found.wasserstein == pytest.approx(1.0, abs=0.15)  # in units of the reference's standard deviation
    assert found.psi is not None and found.psi > 0.5
    assert found.ks is not None and found.ks > 0.3
    # the window's mass moved to the upper bins
    assert sum(found.histogram.window[-3:]) > 2 * sum(found.histogram.reference[-3:])


def test_the_wasserstein_unit_is_the_reference_standard_deviation() -> None:
    reference = normal(5000, sd=1, seed=3)
    assert distances(reference * 50, reference * 50 + 25).wasserstein == pytest.approx(0.5, rel=0.02)
    assert stats.spread(np.full(100, 4.0)) == 1.0  # a constant column: distances in the column's own units
    assert stats.spread(np.array([])) == 1.0


def test_an_empty_side_gives_no_distances() -> None:
    found = distances(normal(100), np.array([]))
    assert (found.psi, found.wasserstein, found.ks) == (None, None, None)
    assert found.histogram.window == [0.0] * len(found.histogram.labels)


def test_missing_share() -> None:
    assert stats.missing_share(pd.Series([1.0, None, 3.0, None])) == 0.5
    assert stats.missing_share(pd.Series([], dtype=float)) == 0.0


def categories(shares: dict[str, float], n: int, seed: int = RNG_SEED) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(rng.choice(list(shares), size=n, p=list(shares.values())), dtype=object)


def test_categories_with_the_same_shares_are_close() -> None:
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    found = stats.category_distances(categories(shares, 15_000, seed=1), categories(shares, 500, seed=2))
    assert found.psi is not None and found.psi < 0.05
    assert found.jensen_shannon is not None and found.jensen_shannon < 0.1
    assert found.unseen_share == 0.0 and found.unseen == {}
    assert found.histogram.labels == ["a", "b", "c"]  # most frequent in the reference first


def test_a_new_category_is_named_counted_and_moves_the_distances() -> None:
    reference = categories({"a": 0.5, "b": 0.5}, 10_000)
    window = pd.concat([categories({"a": 0.5, "b": 0.5}, 900), pd.Series(["zzz"] * 80 + ["yy"] * 20)])
    found = stats.category_distances(reference, window)
    assert found.unseen == {"zzz": 80, "yy": 20}
    assert found.unseen_share == pytest.approx(0.1)
    assert found.histogram.labels[-2:] == ["zzz", "yy"]
    assert found.histogram.reference[-2:] == [0.0, 0.0]
    assert found.psi is not None and found.psi > 0.2
    assert found.jensen_shannon is not None and found.jensen_shannon > 0.15


def test_a_changed_mix_of_known_categories_is_far_without_unseen_values() -> None:
    found = stats.category_distances(
        categories({"a": 0.7, "b": 0.2, "c": 0.1}, 10_000), categories({"a": 0.4, "b": 0.2, "c": 0.4}, 1000)
    )
    assert found.unseen_share == 0.0
    assert found.psi is not None and found.psi > 0.3
    assert found.jensen_shannon is not None and found.jensen_shannon > 0.2


def test_categories_compare_as_text_and_ignore_missing_values() -> None:
    found = stats.category_distances(pd.Series(["1", "2", None] * 10), pd.Series([1, 2, np.nan] * 10, dtype=object))
    assert found.unseen_share == 0.0
    assert found.psi == pytest.approx(0.0, abs=1e-12)
    assert sum(found.histogram.window) == pytest.approx(1.0)


def test_categories_known_up_front_are_never_unseen() -> None:
    reference = pd.Series(["a", "b"] * 50)
    window = pd.Series(["a", "c"] * 50)
    plain = stats.category_distances(reference, window)
    assert plain.unseen == {"c": 50}
    known = stats.category_distances(reference, window, ["a", "b", "c"])
    assert known.unseen == {} and known.unseen_share == 0
    assert known.histogram.labels == ["a", "b", "c"] and known.histogram.reference == [0.5, 0.5, 0.0]
    assert known.psi == pytest.approx(plain.psi) and known.jensen_shannon == pytest.approx(plain.jensen_shannon)
