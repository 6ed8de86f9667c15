"""The service's model call for a loaded model: the compiled path when it reproduces the model, else the generic one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import SchemaParams
from gitops_ml.model_call import compiled
from gitops_ml.pipeline.interface import score_frame

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnScorer:
    """``scorer(columns)``: the task's prediction for each row of raw columns (feature name -> values)."""

    score: Callable[[Mapping[str, Sequence[Any]]], np.ndarray]
    path: str
    """Which path serves, in words: ``fast: ...`` or ``generic: <why the fast path does not apply>``."""
    quick_call_max_rows: int = 0
    """Calls of at most this many rows take well under a millisecond, so a caller may make them without handing
    them to a thread (0: no such promise)."""

    def __call__(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Predictions for the rows of ``columns`` (None or NaN for a missing value), as :func:`score_frame` gives."""
        return self.score(columns)


def _estimator_name(model: Any) -> str:
    steps = getattr(model, "steps", None)
    return type(steps[-1][1] if steps else model).__name__


def column_scorer(model: Any, schema: SchemaParams) -> ColumnScorer:
    """The scorer of raw columns for ``model``, compiled once: call it per batch; logs once which path serves.

    The fast path (:mod:`~gitops_ml.model_call.compiled`) runs the whole fitted Pipeline converted to ONNX in ONNX
    Runtime, for every task, after checking on probe rows that it gives ``score_frame``'s predictions (within
    ``compiled.TOLERANCE``). A model it cannot convert, a graph that fails that check, or a machine without its
    packages is scored through the team's ``interface.score_frame`` on a DataFrame built from the columns; the one
    log line then names the estimator and why.
    """
    try:
        scorer = compiled.compile_scorer(model, schema)
    except compiled.NotCompiled as exc:
        reason = str(exc)
    except ModuleNotFoundError as exc:
        reason = f"the compiled path needs the package {exc.name}, which is not installed"
    except Exception as exc:  # a fault in the fast path must not stop the model from serving
        reason = f"compiling the fast path failed ({type(exc).__name__}: {exc})"
    else:
        logger.info("scoring path: fast: %s: %s", _estimator_name(model), scorer.path)
        return ColumnScorer(scorer, f"fast: {scorer.path}", scorer.quick_call_max_rows)
    reason = f"{_estimator_name(model)}: {reason}"
    logger.warning("scoring path: generic (score_frame on a DataFrame per call): %s", reason)

    def generic(columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        return score_frame(model, pd.DataFrame({name: list(values) for name, values in columns.items()}), schema)

    return ColumnScorer(generic, f"generic: {reason}")


def scorer_packages() -> tuple[str, ...]:
    """The pip distributions :func:`column_scorer`'s compiled path needs where the service runs."""
    return compiled.PACKAGES
