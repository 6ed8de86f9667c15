"""The sample generator: seeded, byte-for-byte reproducible, and shaped like card-fraud data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support.sample import sample_generator


def generate_transactions(rows: int, seed: int):
    return sample_generator().generate_transactions(rows, seed)


def write_sample(path: Path, rows: int, seed: int) -> Path:
    return sample_generator().write_sample(path, rows, seed)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    digests = [
        hashlib.md5(write_sample(tmp_path / name, rows=3000, seed=seed).read_bytes()).hexdigest()
        for name, seed in (("a.csv", 1), ("b.csv", 1), ("c.csv", 2))
    ]
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_row_count_knob_and_columns() -> None:
    frame = generate_transactions(1234, seed=3)
    assert len(frame) == 1234
    assert {"amount", "merchant_category", "hour", "channel", "country", "customer_tenure_days", "is_fraud"} <= set(
        frame.columns
    )
    assert frame["transaction_id"].is_unique


def test_fraud_is_rare_but_present_and_values_are_missing_somewhere() -> None:
    frame = generate_transactions(40_000, seed=11)
    assert 0.02 <= frame["is_fraud"].mean() <= 0.05
    for column in ("merchant_category", "customer_tenure_days", "distance_from_home_km", "avg_amount_30d"):
        assert frame[column].isna().any(), column
    assert not frame["amount"].isna().any()


def test_fraud_depends_on_the_features() -> None:
    frame = generate_transactions(40_000, seed=5)
    by_channel = frame.groupby("channel")["is_fraud"].mean()
    assert by_channel["online"] > 2 * by_channel["in_store"]


def test_zero_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="rows must be at least 1"):
        generate_transactions(0, seed=1)
