"""What the model's prediction means for each task: the one place the predicted class is decided and named.

The scorer (:func:`gitops_ml.model_call.scorer.column_scorer`) returns the task-shaped prediction: the positive
class's probability (binary, shape (rows,)), one probability per class in ``schema.classes`` order (multiclass,
shape (rows, classes)) or the predicted value (regression, shape (rows,)). The response (``schema.py``), the
prediction log (``log_lines.py``), the metrics (``metrics.py``) and the drift check (``monitoring/``) all read it
through :class:`TaskOutput`, so the decision rule (binary: the probability reaches ``evaluate.threshold``;
multiclass: the most probable class) and the spelling of a class as text are written once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gitops_ml.tasks import Task

if TYPE_CHECKING:
    from gitops_ml.config import SchemaParams


def class_name(value: Any) -> str:
    """A class value of the schema as text (``1``, ``yes``; booleans as ``true``/``false``, as JSON writes them).

    The metrics' ``label`` values, the keys of a multiclass response's ``probabilities`` and the predicted classes
    the drift check compares are spelled this way.
    """
    return json.dumps(value) if isinstance(value, bool | np.bool_) else str(value)


@dataclass(frozen=True)
class TaskOutput:
    """How to read the model's prediction for one task: its classes (in index order) and the binary threshold."""

    task: Task
    classes: tuple[Any, ...] = ()
    """Classification: the class values in the order of their index (binary: negative, positive); empty for
    regression."""
    threshold: float = 0.5
    """Binary only: the positive class's probability at and above which a record is labelled positive."""

    @classmethod
    def of(cls, schema: SchemaParams, threshold: float = 0.5) -> TaskOutput:
        """The output of a model trained on ``schema`` (``threshold``: ``evaluate.threshold``)."""
        return cls(schema.task, tuple(schema.class_labels), threshold)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes as text (:func:`class_name`), in index order."""
        return tuple(class_name(value) for value in self.classes)

    def class_indices(self, predicted: np.ndarray) -> np.ndarray:
        """The predicted class of each row, as its index in :attr:`classes` (not for regression)."""
        if self.task is Task.BINARY:
            return (np.asarray(predicted, dtype=np.float64) >= self.threshold).astype(np.int64)
        if self.task is Task.MULTICLASS:
            indices: np.ndarray = np.argmax(self.probabilities(predicted), axis=1).astype(np.int64)
            return indices
        raise ValueError("a regression model predicts a value, not a class")

    def labels(self, predicted: np.ndarray) -> list[Any]:
        """The predicted class of each row as the schema spells it (not for regression)."""
        classes = self.classes
        return [classes[index] for index in self.class_indices(predicted).tolist()]

    def probabilities(self, predicted: np.ndarray) -> np.ndarray:
        """Multiclass: the (rows, classes) probabilities, refusing another shape with the shape in the message."""
        matrix = np.asarray(predicted, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.classes):
            raise ValueError(
                f"a multiclass prediction needs one probability per class ({len(self.classes)}), got shape "
                f"{matrix.shape}"
            )
        return matrix
