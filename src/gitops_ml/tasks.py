"""The task a project's model solves: the one notion every part of the loop asks instead of assuming binary.

``schema.task`` in params.yaml names it (``make init-data`` infers it from the target). What differs per task is
declared next to the thing it concerns (the metrics in :mod:`gitops_ml.model_metrics`, the estimators in
``pipeline/estimators.py``, the response in ``serving/schema.py``), each keyed by :class:`Task`. No heavy imports:
the CLI and the config load this at start-up.
"""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """What the model predicts from a row."""

    BINARY = "binary"
    """One of two classes: the model gives the positive class's probability (``schema.positive_class``)."""
    MULTICLASS = "multiclass"
    """One of three or more classes (``schema.classes``): the model gives one probability per class."""
    REGRESSION = "regression"
    """A number: the model gives the predicted value."""

    @property
    def is_classification(self) -> bool:
        """True for the tasks whose target is a class (binary and multiclass)."""
        return self is not Task.REGRESSION


DEFAULT_TASK = Task.BINARY
