"""Seeded synthetic data of the other two tasks, shaped like the public datasets teams bring.

- :func:`weather_table`: multiclass. A daily weather log per station: an id, an ISO date, numbers with gaps, a
  category with gaps, and a ``weather`` label of five classes, one of them (``snow``) under 2% of the rows.
- :func:`house_table`: regression. House listings: an id, a listing datetime, numbers, a category, a free-text
  description (a distinct value per row, which init-data must leave out), and a ``price`` missing on some rows
  (unlabelled rows, which validate must leave out and count).

Both carry a real signal, so a model trained on them clears the no-skill floors init-data sets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEATHER_CLASSES = ("sun", "rain", "drizzle", "fog", "snow")


def weather_table(rows: int = 1500, seed: int = 3) -> pd.DataFrame:
    """Multiclass: ``weather`` from temperature, precipitation, wind and region (``snow`` about 1.5%)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2019-01-01", periods=rows, freq="D")
    season = np.cos(2 * np.pi * (dates.dayofyear.to_numpy() - 15) / 365)  # 1 in January, -1 in July
    temp_max = 15 - 12 * season + rng.normal(0, 3, rows)
    precipitation = np.clip(rng.gamma(0.8, 4.0, rows) - 1.5, 0, None)
    wind = rng.gamma(3.0, 1.2, rows)
    region = rng.choice(["coast", "valley", "hills"], rows)
    weather = np.where(precipitation > 6, "rain", np.where(precipitation > 0.5, "drizzle", "sun"))
    weather = np.where((weather == "sun") & (wind < 1.8) & (region == "valley"), "fog", weather)
    snowy = np.argsort(temp_max)[: max(12, rows * 15 // 1000)]  # the coldest days with some precipitation
    weather[snowy] = "snow"
    noise = rng.random(rows) < 0.08
    weather[noise] = rng.choice(["sun", "rain", "drizzle"], int(noise.sum()))
    frame = pd.DataFrame(
        {
            "station_id": [f"ST-{i:05d}" for i in rng.permutation(rows)],
            "date": dates.strftime("%Y-%m-%d"),
            "temp_max": temp_max.round(1),
            "precipitation": precipitation.round(1),
            "wind": wind.round(1),
            "region": pd.array(region, dtype="string"),
            "weather": weather,
        }
    )
    frame.loc[rng.random(rows) < 0.03, "temp_max"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "region"] = pd.NA
    return frame


def house_table(rows: int = 1200, seed: int = 4, unlabelled: float = 0.05) -> pd.DataFrame:
    """Regression: ``price`` (thousands) from area, rooms, district and age; ``unlabelled`` of the rows lack it."""
    rng = np.random.default_rng(seed)
    area = rng.gamma(6.0, 15.0, rows)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.8, rows)), 1, 9).astype(int)
    district = rng.choice(["centre", "harbour", "suburb", "airport"], rows, p=[0.2, 0.25, 0.4, 0.15])
    built = rng.integers(1950, 2023, rows)
    listed = pd.Timestamp("2021-01-04 09:00") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, rows), unit="h")
    premium = pd.Series(district).map({"centre": 1.6, "harbour": 1.3, "suburb": 1.0, "airport": 0.8}).to_numpy()
    price = premium * (40 + 2.1 * area + 6 * rooms) * (1 + (built - 1950) / 300) + rng.normal(0, 15, rows)
    words = np.array(["bright", "quiet", "renovated", "spacious", "cosy", "modern", "garden", "balcony", "view"])
    description = [
        f"{' '.join(rng.choice(words, 3, replace=False))} home, {r} rooms, listing {i}" for i, r in enumerate(rooms)
    ]
    frame = pd.DataFrame(
        {
            "listing_id": [f"L{i:06d}" for i in rng.permutation(rows)],
            "listed_at": listed.strftime("%Y-%m-%d %H:%M:%S"),
            "area_m2": area.round(1),
            "rooms": rooms,
            "district": district,
            "year_built": built,
            "description": description,
            "price": price.round(1),
        }
    )
    frame.loc[rng.random(rows) < unlabelled, "price"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "area_m2"] = np.nan
    return frame
