"""Two value helpers several modules share: nested keys made flat, and numbers made safe for JSON and the gate.

Hand-written because each is a few lines whose exact rules matter here (which values count as numbers, how an
empty section is shown), and no heavy imports: the CLI loads this at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``, the way MLflow params and DVC param diffs name nested keys.

    Lists and empty mappings stay values.
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def finite_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is missing, NaN, infinite or not a number (JSON has no NaN).

    Booleans are not numbers here: a metric that reads ``true`` is a broken file, and the gate fails closed on it.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
