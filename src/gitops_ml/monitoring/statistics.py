"""Distances between the reference's and a window's values of one feature, computed with scipy.

Numbers: the population stability index (PSI) over the reference's quantile bins, the Wasserstein (earth mover's)
distance in units of the reference's spread, and the Kolmogorov-Smirnov statistic. Categories: PSI over the
categories and the Jensen-Shannon distance. Both: the change of the missing share, and for categories the share
of values the reference never had. Each is a distance, not a p-value: it says how large a change is whatever the
window's size, where a test on a window of 100,000 rows finds every negligible change significant.

Missing values are left out of the distances (the missing share is its own statistic), so a column that only
gains missing values drifts on that one statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

SMOOTHING = 0.5
"""Added to every bin's count before shares are taken, so a bin empty on one side gives a finite PSI."""

Floats = NDArray[np.float64]
Counts = NDArray[np.integer[Any]]


@dataclass(frozen=True)
class Histogram:
    """The two sides' shares over the same bins (numbers) or categories, for the PSI and the report's charts."""

    labels: list[str]
    reference: list[float]
    window: list[float]


@dataclass(frozen=True)
class NumericDistances:
    """PSI, scaled Wasserstein distance and KS statistic of one numeric feature (None when a side has no values)."""

    psi: float | None
    wasserstein: float | None
    ks: float | None
    histogram: Histogram


@dataclass(frozen=True)
class CategoryDistances:
    """PSI and Jensen-Shannon distance of one category feature, and the categories the reference never had."""

    psi: float | None
    jensen_shannon: float | None
    unseen_share: float
    unseen: dict[str, int]
    histogram: Histogram


def missing_share(values: pd.Series) -> float:
    """Share of missing values (0 for an empty column)."""
    return float(values.isna().mean()) if len(values) else 0.0


def psi(reference_counts: Counts, window_counts: Counts) -> float:
    """Population stability index: sum over bins of (w - r) * ln(w / r) of the two sides' smoothed shares.

    Symmetric, 0 for identical shares; rules of thumb read < 0.1 as stable and > 0.2 as a significant shift.
    """
    r = _smoothed_shares(reference_counts)
    w = _smoothed_shares(window_counts)
    return float(np.sum((w - r) * np.log(w / r)))


def _smoothed_shares(counts: Counts) -> Floats:
    smoothed: Floats = counts.astype(np.float64) + SMOOTHING
    shares: Floats = smoothed / smoothed.sum()
    return shares


def quantile_edges(reference: Floats, bins: int) -> Floats:
    """Interior edges of ``bins`` equal-frequency bins of ``reference``, repeats removed (ties make fewer bins)."""
    if reference.size == 0:
        return np.array([], dtype=np.float64)
    edges: Floats = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return edges


def bin_counts(values: Floats, edges: Floats) -> Counts:
    """Counts of ``values`` in the bins (-inf, e1), [e1, e2), ..., [ek, inf) that ``edges`` make."""
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=edges.size + 1).astype(np.int64)


def spread(reference: Floats) -> float:
    """The unit of the scaled Wasserstein distance: the reference's standard deviation (1 for a constant column).

    Measured on the sample data, the Wasserstein distance of unshifted windows in units of the standard deviation
    has nearly the same spread on every feature, heavy-tailed amounts, hours, counts and the predicted score alike
    (it shrinks like 1/sqrt(window rows) whatever the distribution), so one threshold fits all of them. In units
    of the interquartile range it does not: a heavy tail moves far more mass than the IQR suggests, and the
    score's IQR is a few thousandths.
    """
    if reference.size == 0:
        return 1.0
    deviation = float(np.std(reference))
    return deviation if deviation > 0 and np.isfinite(deviation) else 1.0


def _edge_label(edges: Floats, index: int) -> str:
    low = "-inf" if index == 0 else f"{edges[index - 1]:.4g}"
    high = "inf" if index == edges.size else f"{edges[index]:.4g}"
    return f"[{low}, {high})"


def numeric_distances(reference: Floats, window: Floats, edges: Floats) -> NumericDistances:
    """Distances between the non-missing numbers ``reference`` and ``window`` (both float arrays).

    ``edges`` are the PSI's bins, :func:`quantile_edges` of ``reference`` (computed once per reference).
    """
    ref_counts, win_counts = bin_counts(reference, edges), bin_counts(window, edges)
    histogram = Histogram(
        labels=[_edge_label(edges, i) for i in range(edges.size + 1)],
        reference=_shares(ref_counts),
        window=_shares(win_counts),
    )
    if reference.size == 0 or window.size == 0:
        return NumericDistances(None, None, None, histogram)
    return NumericDistances(
        psi=psi(ref_counts, win_counts),
        wasserstein=float(wasserstein_distance(reference, window)) / spread(reference),
        ks=float(ks_2samp(reference, window, method="asymp").statistic),
        histogram=histogram,
    )


def _shares(counts: Counts) -> list[float]:
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def category_distances(reference: pd.Series, window: pd.Series, categories: Sequence[str] = ()) -> CategoryDistances:
    """Distances between the non-missing category values of ``reference`` and ``window`` (compared as text).

    Categories are the reference's and the given ``categories`` (known even when the reference has none of them),
    most frequent in the reference first, then those only the window has (the unseen ones).
    """
    ref_counts = reference.dropna().astype(str).value_counts(sort=False)
    ref_counts = ref_counts.reindex(list(dict.fromkeys([*ref_counts.index, *categories])), fill_value=0)
    win_counts = window.dropna().astype(str).value_counts(sort=False)
    known = sorted(ref_counts.index, key=lambda c: (-int(ref_counts[c]), c))
    unseen = sorted((c for c in win_counts.index if c not in ref_counts.index), key=lambda c: (-int(win_counts[c]), c))
    labels = [*known, *unseen]
    r = ref_counts.reindex(labels, fill_value=0).to_numpy(dtype=np.int64)
    w = win_counts.reindex(labels, fill_value=0).to_numpy(dtype=np.int64)
    histogram = Histogram(labels=labels, reference=_shares(r), window=_shares(w))
    unseen_counts = {c: int(win_counts[c]) for c in unseen}
    window_total = int(w.sum())
    unseen_share = sum(unseen_counts.values()) / window_total if window_total else 0.0
    if r.sum() == 0 or window_total == 0:
        return CategoryDistances(None, None, unseen_share, unseen_counts, histogram)
    return CategoryDistances(
        psi=psi(r, w),
        jensen_shannon=float(jensenshannon(r / r.sum(), w / window_total, base=2)),
        unseen_share=unseen_share,
        unseen=unseen_counts,
        histogram=histogram,
    )
