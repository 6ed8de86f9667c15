"""Seeded synthetic "own data" of two shapes, for the tests of ``gitops-ml init-data``.

- :func:`numeric_table`: numbers only (floats, a count, a 0/1 flag), a 0/1 target, a few hundred rows.
- :func:`customer_table`: text categories with missing values, a string id, a nullable integer, a nullable
  boolean, a yes/no target, and columns init-data must leave out (constant, dates, free text, all-missing).

Both carry a real signal, so a model trained on them beats chance: the floors init-data sets must pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def numeric_table(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    """Numeric features and a 0/1 target ``converted`` (about 30% positive)."""
    rng = np.random.default_rng(seed)
    pages = rng.poisson(4, rows)
    seconds = rng.gamma(2.0, 60.0, rows)
    score = rng.normal(0.0, 1.0, rows)
    returning = rng.integers(0, 2, rows)
    logit = -2.2 + 0.35 * pages + 0.004 * seconds + 0.9 * score + 0.6 * returning
    converted = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "pages_viewed": pages,
            "seconds_on_site": seconds.round(2),
            "ad_score": score.round(4),
            "returning": returning,
            "converted": converted,
        }
    )


def customer_table(rows: int = 500, seed: int = 2) -> pd.DataFrame:
    """Customers with a yes/no ``churn`` target (about 25% yes), categories, ids, gaps and unusable columns."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west"], rows)
    tenure = rng.integers(1, 72, rows)
    spend = rng.gamma(3.0, 20.0, rows)
    autopay = rng.random(rows) < 0.6
    logit = -0.6 + 1.4 * (plan == "basic") - 0.04 * tenure + 0.01 * spend - 0.9 * autopay
    churn = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in rng.permutation(rows)],
            "plan": pd.array(plan, dtype="string"),
            "region": pd.array(region, dtype="string"),
            "tenure_months": pd.array(tenure, dtype="Int64"),
            "monthly_spend": spend.round(2),
            "autopay": pd.array(autopay, dtype="boolean"),
            "signup_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D"),
            "country": "NL",
            "comment": pd.array([f"ticket {i % 80}" for i in range(rows)], dtype="string"),
            "referrer": pd.array([None] * rows, dtype="string"),
            "churn": churn,
        }
    )
    frame.loc[rng.random(rows) < 0.05, "plan"] = pd.NA
    frame.loc[rng.random(rows) < 0.08, "tenure_months"] = pd.NA
    frame.loc[rng.random(rows) < 0.04, "monthly_spend"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "autopay"] = pd.NA
    return frame
