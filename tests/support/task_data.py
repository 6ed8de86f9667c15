"""Seeded synthetic "own data" of the shapes the task-generic loop meets, for the tests of init-data and the stages.

- :func:`weather_table`: multiclass. Daily rows with an ISO ``date`` (text, as pandas writes a date), numbers with
  gaps, a ``weather`` label of five classes of which ``snow`` is rare (about 3%), a few unlabelled rows.
- :func:`cars_table`: regression. A free-text ``name``, an ``origin`` category, integer ``cylinders``, a
  ``horsepower`` with gaps, a date-like ``year`` (``1970-01-01``: January 1st of each model year) and the target
  ``mpg`` with a few gaps (unlabelled rows).

Both carry a real signal, so a model trained on them beats no skill. :func:`weather_schema` and :func:`cars_schema`
are their data contracts and :func:`encoded_weather` and :func:`labelled_cars` their labelled rows as the validated
data holds them, for tests and benchmarks that fit models directly (without init-data and validate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import SchemaParams

WEATHER_CLASSES = ["drizzle", "fog", "rain", "snow", "sun"]


def weather_table(rows: int = 600, seed: int = 3, unlabelled: int = 7) -> pd.DataFrame:
    """Daily weather from 2012-01-01: ``date``, ``precipitation``, ``temp_max``, ``temp_min``, ``wind``, ``weather``."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2012-01-01", periods=rows, freq="D")
    season = np.cos(2 * np.pi * (dates.dayofyear.to_numpy() - 200) / 365)
    temp_max = np.round(16 + 10 * season + rng.normal(0, 3, rows), 1)
    temp_min = np.round(temp_max - rng.gamma(4, 2, rows), 1)
    precipitation = np.round(np.where(rng.random(rows) < 0.45, rng.gamma(1.5, 4, rows), 0.0), 1)
    wind = np.round(rng.gamma(4, 0.9, rows), 1)
    weather = np.where(
        precipitation == 0,
        np.where(rng.random(rows) < 0.15, "fog", "sun"),
        np.where(precipitation < 2, "drizzle", "rain"),
    ).astype(object)
    cold_wet = (temp_min < -3) & (precipitation > 0)
    weather[cold_wet] = "snow"
    snowy = np.flatnonzero(weather == "snow")
    if len(snowy) < 12:  # keep the rare class above init-data's minimum whatever the seed
        extra = rng.choice(np.flatnonzero(precipitation > 0), 12 - len(snowy), replace=False)
        weather[extra] = "snow"
        temp_min[extra] = np.round(rng.uniform(-4, 1, len(extra)), 1)
    frame = pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "precipitation": precipitation,
            "temp_max": temp_max,
            "temp_min": temp_min,
            "wind": wind,
            "weather": weather,
        }
    )
    frame.loc[rng.random(rows) < 0.03, "wind"] = np.nan
    frame.loc[rng.choice(rows, unlabelled, replace=False), "weather"] = None
    return frame


def cars_table(rows: int = 300, seed: int = 4, unlabelled: int = 6) -> pd.DataFrame:
    """Cars with a ``mpg`` target to predict from weight, horsepower, cylinders, origin and model year."""
    rng = np.random.default_rng(seed)
    cylinders = rng.choice([4, 6, 8], rows, p=[0.5, 0.25, 0.25])
    weight = np.round(1500 + 450 * cylinders + rng.normal(0, 300, rows))
    horsepower = np.round(20 + 0.03 * weight + rng.normal(0, 10, rows))
    year = rng.integers(1970, 1983, rows)
    origin = rng.choice(["usa", "europe", "japan"], rows, p=[0.6, 0.2, 0.2])
    mpg = np.round(62 - 0.008 * weight + 0.6 * (year - 1970) + 2 * (origin == "japan") + rng.normal(0, 2, rows), 1)
    frame = pd.DataFrame(
        {
            "name": [f"{o} model {i % 120}" for i, o in enumerate(origin)],  # free text, not an id
            "origin": origin,
            "cylinders": cylinders,
            "horsepower": horsepower,
            "weight": weight,
            "year": [f"{y}-01-01" for y in year],
            "mpg": mpg,
        }
    )
    frame.loc[rng.random(rows) < 0.05, "horsepower"] = np.nan
    frame.loc[rng.choice(rows, unlabelled, replace=False), "mpg"] = np.nan
    return frame


def weather_schema(**contract: Any) -> SchemaParams:
    """The multiclass contract of :func:`weather_table` (``contract`` adds or replaces keys)."""
    columns = {
        "date": {"type": "datetime"},
        "precipitation": {"type": "float", "min": 0},
        "temp_max": {"type": "float"},
        "temp_min": {"type": "float"},
        "wind": {"type": "float", "min": 0, "nullable": True},
    }
    base = {"task": "multiclass", "target": "weather", "classes": WEATHER_CLASSES, "columns": columns}
    return SchemaParams.model_validate(base | contract)


def cars_schema(**contract: Any) -> SchemaParams:
    """The regression contract of :func:`cars_table`, without its free-text ``name`` (``contract`` adds or replaces
    keys)."""
    columns = {
        "origin": {"type": "category", "categories": ["usa", "europe", "japan"]},
        "cylinders": {"type": "int", "min": 3, "max": 12},
        "horsepower": {"type": "float", "min": 0, "nullable": True},
        "weight": {"type": "float", "min": 0},
        "year": {"type": "datetime", "parts": ["year"]},
    }
    return SchemaParams.model_validate({"task": "regression", "target": "mpg", "columns": columns} | contract)


def encoded_weather(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    """:func:`weather_table`'s labelled rows, ``weather`` as the class index (its position in WEATHER_CLASSES)."""
    frame = weather_table(rows, seed).dropna(subset=["weather"]).reset_index(drop=True)
    return frame.assign(weather=frame["weather"].map({c: i for i, c in enumerate(WEATHER_CLASSES)}).astype(int))


def labelled_cars(rows: int = 300, seed: int = 4) -> pd.DataFrame:
    """:func:`cars_table`'s rows that have an ``mpg``."""
    return cars_table(rows, seed).dropna(subset=["mpg"]).reset_index(drop=True)
