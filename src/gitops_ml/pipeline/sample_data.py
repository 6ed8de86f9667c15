"""Seeded generator of the built-in sample: card transactions with a rare ``is_fraud`` label.

The output is byte-for-byte reproducible for a given (rows, seed) and library versions pinned in ``uv.lock``,
so a fresh clone without a DVC remote regenerates exactly the file whose hash ``data.dvc`` records.
Replace it with your own data by following docs/own-data.md (`make init-data`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gitops_ml.io import atomic_write

MERCHANT_CATEGORIES = {
    # category: (share of transactions, fraud log-odds shift)
    "grocery": (0.24, -0.8),
    "restaurants": (0.16, -0.5),
    "fuel": (0.10, -0.2),
    "travel": (0.06, 0.7),
    "electronics": (0.08, 1.0),
    "fashion": (0.10, 0.2),
    "health": (0.07, -0.6),
    "digital_goods": (0.07, 1.2),
    "gaming": (0.04, 1.1),
    "other": (0.08, 0.0),
}
CHANNELS = {"in_store": (0.55, -0.9), "online": (0.35, 0.9), "atm": (0.06, 0.4), "phone": (0.04, 0.6)}
COUNTRIES = {
    "US": (0.40, -0.2),
    "GB": (0.12, -0.2),
    "DE": (0.10, -0.3),
    "FR": (0.08, -0.2),
    "ES": (0.06, 0.0),
    "NL": (0.05, -0.2),
    "BR": (0.05, 0.6),
    "IN": (0.05, 0.5),
    "NG": (0.03, 1.2),
    "OTHER": (0.06, 0.8),
}
# Intercept tuned so that the positive rate is about 3% (between the 2% and 5% the sample promises).
FRAUD_INTERCEPT = -4.5


def _draw_category(
    rng: np.random.Generator, table: dict[str, tuple[float, float]], n: int
) -> tuple[np.ndarray, np.ndarray]:
    names = np.array(list(table))
    shares = np.array([share for share, _ in table.values()])
    index = rng.choice(len(names), size=n, p=shares / shares.sum())
    shifts = np.array([shift for _, shift in table.values()])
    return names[index], shifts[index]


def generate_transactions(rows: int, seed: int) -> pd.DataFrame:
    """Return ``rows`` synthetic transactions; the same (rows, seed) always gives the same frame."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    merchant, merchant_shift = _draw_category(rng, MERCHANT_CATEGORIES, rows)
    channel, channel_shift = _draw_category(rng, CHANNELS, rows)
    country, country_shift = _draw_category(rng, COUNTRIES, rows)

    hour = rng.choice(24, size=rows, p=_hour_profile())
    tenure = np.minimum(rng.gamma(shape=1.6, scale=700.0, size=rows), 20_000).astype(np.int64)
    avg_amount = np.minimum(rng.lognormal(mean=3.6, sigma=0.7, size=rows), 50_000)
    amount = np.minimum(avg_amount * rng.lognormal(mean=0.0, sigma=0.9, size=rows), 50_000)
    distance = np.minimum(rng.exponential(scale=25.0, size=rows), 20_000)
    velocity = rng.poisson(lam=2.5, size=rows)
    card_present = (channel == "in_store") & (rng.random(rows) < 0.92)

    night = (hour <= 5).astype(float)
    log_odds = (
        FRAUD_INTERCEPT
        + merchant_shift
        + channel_shift
        + country_shift
        + 1.2 * night
        + 0.9 * np.log1p(amount / np.maximum(avg_amount, 1.0))
        + 0.35 * np.log1p(distance / 50.0)
        + 0.25 * np.maximum(velocity - 3, 0)
        - 0.35 * np.log1p(tenure / 365.0)
        - 1.0 * card_present
    )
    is_fraud = rng.random(rows) < 1.0 / (1.0 + np.exp(-log_odds))

    # Fraud looks different after the fact: bigger, further away, in quick bursts.
    amount = np.where(is_fraud, np.minimum(amount * rng.uniform(1.0, 3.0, size=rows), 50_000), amount)
    velocity = np.where(is_fraud, velocity + rng.poisson(lam=2.0, size=rows), velocity)

    frame = pd.DataFrame(
        {
            "transaction_id": np.arange(1, rows + 1, dtype=np.int64),
            "amount": np.round(amount, 2),
            "merchant_category": pd.array(merchant, dtype="string"),
            "hour": hour.astype(np.int64),
            "channel": channel,
            "country": country,
            "card_present": card_present,
            "customer_tenure_days": pd.array(tenure, dtype="Int64"),
            "distance_from_home_km": np.round(distance, 1),
            "transactions_last_24h": velocity.astype(np.int64),
            "avg_amount_30d": np.round(avg_amount, 2),
            "is_fraud": is_fraud.astype(np.int64),
        }
    )
    # Real data has holes: missing values where the schema allows them.
    frame.loc[rng.random(rows) < 0.01, "merchant_category"] = pd.NA
    frame.loc[rng.random(rows) < 0.03, "customer_tenure_days"] = pd.NA
    frame.loc[rng.random(rows) < 0.05, "distance_from_home_km"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "avg_amount_30d"] = np.nan
    return frame


def _hour_profile() -> np.ndarray:
    hours = np.arange(24)
    weights = 0.3 + np.exp(-((hours - 13) ** 2) / 30.0) + 0.5 * np.exp(-((hours - 19) ** 2) / 8.0)
    profile: np.ndarray = weights / weights.sum()
    return profile


def write_sample(path: Path, rows: int, seed: int) -> Path:
    """Generate the sample and write it as CSV, atomically (no half-written file on failure)."""
    frame = generate_transactions(rows, seed)
    with atomic_write(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")
    return path
