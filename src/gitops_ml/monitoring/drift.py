"""The drift check: every feature and the model's prediction of a window against the training reference.

:class:`DriftReport` is the schema of ``reports/drift.json``; :mod:`~gitops_ml.monitoring.render` turns it into
``drift.md``. A feature drifts when one of its statistics is above its threshold in ``monitor.thresholds``
(params.yaml); the window drifts when a feature or the prediction does. Numbers (``float``, ``int``) get PSI,
Wasserstein and KS; categories and booleans get PSI and Jensen-Shannon and, for categories, the share of values
the reference never had; every feature gets the change of its missing share. ``datetime`` features are not
compared (time always moves) and the report lists them as not checked.

The prediction is compared as the task makes it (:data:`PREDICTION_NAMES`): the positive class's probability
(binary) and the predicted value (regression) as numbers, the predicted class (multiclass) as a category: the
shares of the predicted classes, by PSI and Jensen-Shannon distance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from threadpoolctl import threadpool_limits

from gitops_ml.config import ColumnType, DriftThresholds, MonitorParams, SchemaParams
from gitops_ml.errors import DriftInputError
from gitops_ml.monitoring import statistics as stats
from gitops_ml.monitoring.against import ChosenBy
from gitops_ml.monitoring.reference import checked_columns, prediction_column, prediction_values
from gitops_ml.monitoring.reference_source import ReadFrom
from gitops_ml.monitoring.window import Window
from gitops_ml.serving.outputs import TaskOutput
from gitops_ml.tasks import Task

SCHEMA_VERSION: Literal[3] = 3
"""2: the reference says what it is (the commit, release and choice it came from). 3: the task, its prediction
in ``score`` (the score, the predicted class or the predicted value) and the features not checked."""
SCORE_NAME = "predicted score"
PREDICTION_NAMES = {Task.BINARY: SCORE_NAME, Task.MULTICLASS: "predicted class", Task.REGRESSION: "predicted value"}
"""The prediction's name in the report (``drifted`` and the statistics table), per task."""
NOT_CHECKED_REASON = "datetime: time always moves, so a window's dates never match the training data's"
MAX_CATEGORIES = 20
"""Categories kept in a feature's histogram (the rest are summed into one bar), so a report stays small."""
MAX_UNSEEN = 10
LABEL_LENGTH = 60

Text = Annotated[str, Field(max_length=2_000)]
CommitSha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
Unit = Annotated[float, Field(ge=0, le=1)]
Statistic = Literal["psi", "wasserstein", "ks", "jensen_shannon", "missing_rate", "unseen_share"]
NUMERIC_STATISTICS: tuple[Statistic, ...] = ("psi", "wasserstein", "ks", "missing_rate")
CATEGORY_STATISTICS: tuple[Statistic, ...] = ("psi", "jensen_shannon", "missing_rate", "unseen_share")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Crossed(_Model):
    """A statistic above its threshold."""

    statistic: Statistic
    value: float
    threshold: float


class Histogram(_Model):
    """The two sides' shares over the reference's bins (numbers) or the categories, for the charts."""

    labels: list[Text] = Field(max_length=200)
    reference: list[Unit] = Field(max_length=200)
    window: list[Unit] = Field(max_length=200)


class Unseen(_Model):
    category: Text
    count: int = Field(ge=0)


class FeatureDrift(_Model):
    """Every statistic of one feature (or of the predicted score) and the thresholds it crossed."""

    name: Text
    kind: Literal["numeric", "category"]
    drift: bool
    crossed: list[Crossed]
    psi: float | None
    wasserstein: float | None = None
    ks: float | None = None
    jensen_shannon: float | None = None
    missing_reference: Unit
    missing_window: Unit
    missing_change: float
    unseen_share: Unit | None = None
    unseen: list[Unseen] = Field(default=[], max_length=MAX_UNSEEN)
    unseen_total: int = Field(default=0, ge=0)
    histogram: Histogram


class NotChecked(_Model):
    """A feature the drift check does not compare, and why."""

    name: Text
    reason: Text


class WindowFacts(_Model):
    source: Text
    files: int = Field(ge=0)
    rows: int = Field(ge=0)
    skipped_lines: int = Field(ge=0)
    first_timestamp: Text | None
    last_timestamp: Text | None
    model_versions: list[Text] = Field(max_length=100)
    score_source: Literal["window", "model", "off"]


class ReferenceOrigin(_Model):
    """Which model's reference the window was compared with, and why (``gitops-ml drift --against``)."""

    chosen_by: ChosenBy
    """``window`` (the window's model version), ``production`` (the overlay's release), ``workspace`` (the working
    tree, or HEAD when it has no reference) or ``explicit`` (``--against``)."""
    commit: CommitSha | None
    """The commit whose outputs were used (for the working tree: its HEAD; None outside git)."""
    model_version: Text | None
    """That commit's release ``model-vN``, when it is one."""
    read_from: ReadFrom
    """Where the files were: the working tree, the DVC cache, or a temporary worktree that made them."""
    note: Text | None = None
    """Why ``auto`` went past the window's and production's release, when it did."""


WORKING_TREE = ReferenceOrigin(chosen_by="workspace", commit=None, model_version=None, read_from="workspace")
"""The origin of a reference given as a file (the benchmarks, tests without git history)."""


class ReferenceFacts(_Model):
    path: Text
    rows: int = Field(ge=0)
    chosen_by: ChosenBy
    commit: CommitSha | None
    model_version: Text | None
    read_from: ReadFrom
    note: Text | None


class Thresholds(_Model):
    min_window_rows: int = Field(ge=1)
    bins: int = Field(ge=2)
    psi: float | None
    wasserstein: float | None
    ks: float | None
    jensen_shannon: float | None
    missing_rate: float | None
    unseen_share: float | None


class DriftReport(_Model):
    """The body of ``reports/drift.json`` (a version 2 report, written before tasks, still reads: binary)."""

    schema_version: Literal[2, 3] = SCHEMA_VERSION
    task: Literal["binary", "multiclass", "regression"] = "binary"
    drift: bool
    drifted: list[Text]
    """Names of the drifted features, then the prediction's (:data:`PREDICTION_NAMES`) when it drifted."""
    checked_at: Text
    model_version: Text | None
    """The window's (most frequent) model version, when its records name one."""
    window: WindowFacts
    reference: ReferenceFacts
    thresholds: Thresholds
    features: list[FeatureDrift]
    score: FeatureDrift | None
    """The prediction's statistics (named for the task: :data:`PREDICTION_NAMES`); None when not checked."""
    not_checked: list[NotChecked] = Field(default=[], max_length=1000)
    """Features left out of the comparison (``datetime`` columns), with why."""


# --- the reference, prepared once ---


@dataclass
class PreparedReference:
    """The reference split by feature: each one's present values, missing share and (numbers) quantile bins.

    Computed once, so many windows can be compared with one reference (the benchmark compares hundreds). The
    prediction is kept apart, as numbers (binary, regression) or the predicted classes as text (multiclass).
    """

    frame: pd.DataFrame
    schema: SchemaParams
    bins: int
    path: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    """Present values: a float array for a number and the score, a text Series for a category or boolean."""
    missing: dict[str, float] = field(default_factory=dict)
    edges: dict[str, np.ndarray] = field(default_factory=dict)
    predicted: Any = None
    """The training rows' prediction: a float array, or a text Series of the predicted classes (multiclass)."""
    predicted_edges: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in checked_columns(self.schema):
            kind = self.schema.columns[name].type
            column = self.frame[name]
            self.missing[name] = stats.missing_share(column)
            if kind in NUMERIC_TYPES:
                self.values[name] = _present(column)
                self.edges[name] = stats.quantile_edges(self.values[name], self.bins)
            else:
                self.values[name] = _as_category(column, kind).dropna()
        predicted = self.frame[prediction_column(self.schema.task)]
        if self.schema.task is Task.MULTICLASS:
            self.predicted = predicted.dropna().astype(str)
        else:
            self.predicted = _present(predicted)
            self.predicted_edges = stats.quantile_edges(self.predicted, self.bins)

    @property
    def rows(self) -> int:
        """Rows of the training split in the reference."""
        return len(self.frame)


NUMERIC_TYPES = (ColumnType.FLOAT, ColumnType.INT)


def _present(column: pd.Series) -> np.ndarray:
    return column.dropna().to_numpy(dtype=np.float64)


def _as_category(column: pd.Series, kind: ColumnType) -> pd.Series:
    """Category values as text; a boolean's 1.0 / 0.0 (as the model's frame holds it) as ``true`` / ``false``."""
    if kind is ColumnType.BOOL:
        return column.map({1.0: "true", 0.0: "false"}).astype(object)
    return column.where(column.isna(), column.astype(str))


# --- comparing ---


def _crossed(values: dict[Statistic, float | None], thresholds: DriftThresholds) -> list[Crossed]:
    crossed = []
    for statistic, value in values.items():
        limit = getattr(thresholds, statistic)
        if limit is not None and value is not None and abs(value) > limit:
            crossed.append(Crossed(statistic=statistic, value=round(value, 6), threshold=limit))
    return crossed


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _label(text: str) -> str:
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1] + "…"


def _histogram(histogram: stats.Histogram) -> Histogram:
    labels, ref, win = histogram.labels, histogram.reference, histogram.window
    if len(labels) > MAX_CATEGORIES:
        order = sorted(range(len(labels)), key=lambda i: -max(ref[i], win[i]))
        keep, rest = sorted(order[: MAX_CATEGORIES - 1]), order[MAX_CATEGORIES - 1 :]
        labels = [labels[i] for i in keep] + [f"({len(rest)} others)"]
        ref = [ref[i] for i in keep] + [sum(ref[i] for i in rest)]
        win = [win[i] for i in keep] + [sum(win[i] for i in rest)]
    return Histogram(
        labels=[_label(label) for label in labels],
        reference=[min(1.0, round(v, 6)) for v in ref],
        window=[min(1.0, round(v, 6)) for v in win],
    )


def numeric_drift(
    name: str,
    reference: np.ndarray,
    reference_missing: float,
    window: pd.Series,
    thresholds: DriftThresholds,
    edges: np.ndarray,
) -> FeatureDrift:
    """Statistics of a numeric feature: drifted when PSI, Wasserstein, KS or the change of the missing share is
    above its threshold. ``reference`` holds the present values, ``edges`` the PSI bins (:func:`quantile_edges`)."""
    distances = stats.numeric_distances(reference, _present(window), edges)
    missing_win = stats.missing_share(window)
    values: dict[Statistic, float | None] = {
        "psi": distances.psi,
        "wasserstein": distances.wasserstein,
        "ks": distances.ks,
        "missing_rate": missing_win - reference_missing,
    }
    crossed = _crossed(values, thresholds)
    return FeatureDrift(
        name=name,
        kind="numeric",
        drift=bool(crossed),
        crossed=crossed,
        psi=_round(distances.psi),
        wasserstein=_round(distances.wasserstein),
        ks=_round(distances.ks),
        missing_reference=round(reference_missing, 6),
        missing_window=round(missing_win, 6),
        missing_change=round(missing_win - reference_missing, 6),
        histogram=_histogram(distances.histogram),
    )


def category_drift(
    name: str,
    reference: pd.Series,
    reference_missing: float,
    window: pd.Series,
    thresholds: DriftThresholds,
    known: Sequence[str] = (),
) -> FeatureDrift:
    """Statistics of a category (or boolean) feature: drifted when PSI, Jensen-Shannon, the change of the missing
    share or the share of unseen categories is above its threshold. ``reference`` holds the present values as text;
    ``known`` categories are never unseen, even when the reference lacks them.
    """
    distances = stats.category_distances(reference, window.dropna(), known)
    missing_win = stats.missing_share(window)
    values: dict[Statistic, float | None] = {
        "psi": distances.psi,
        "jensen_shannon": distances.jensen_shannon,
        "missing_rate": missing_win - reference_missing,
        "unseen_share": distances.unseen_share,
    }
    crossed = _crossed(values, thresholds)
    unseen = list(distances.unseen.items())
    return FeatureDrift(
        name=name,
        kind="category",
        drift=bool(crossed),
        crossed=crossed,
        psi=_round(distances.psi),
        jensen_shannon=_round(distances.jensen_shannon),
        missing_reference=round(reference_missing, 6),
        missing_window=round(missing_win, 6),
        missing_change=round(missing_win - reference_missing, 6),
        unseen_share=round(distances.unseen_share, 6),
        unseen=[Unseen(category=_label(c), count=n) for c, n in unseen[:MAX_UNSEEN]],
        unseen_total=sum(n for _, n in unseen),
        histogram=_histogram(distances.histogram),
    )


def feature_drifts(
    reference: PreparedReference, window: pd.DataFrame, thresholds: DriftThresholds
) -> list[FeatureDrift]:
    """Every checked feature of the schema, in schema order (``window`` typed as :func:`check_window` returns it)."""
    results = []
    for name in checked_columns(reference.schema):
        kind = reference.schema.columns[name].type
        ref, missing = reference.values[name], reference.missing[name]
        if kind in NUMERIC_TYPES:
            results.append(numeric_drift(name, ref, missing, window[name], thresholds, reference.edges[name]))
        else:
            results.append(category_drift(name, ref, missing, _as_category(window[name], kind), thresholds))
    return results


def prediction_drift(reference: PreparedReference, predicted: np.ndarray, thresholds: DriftThresholds) -> FeatureDrift:
    """The window's prediction against the training rows': the score or value as a number, the predicted class as
    a category (every class of ``schema.classes`` known, so a class the training rows never got is no "unseen"
    value). ``predicted`` is the model's task-shaped prediction or the window's own (:func:`prediction_values`)."""
    schema = reference.schema
    name = PREDICTION_NAMES[schema.task]
    values = prediction_values(schema, predicted)
    if reference.predicted_edges is None:  # the predicted classes
        classes = TaskOutput.of(schema).class_names
        return category_drift(name, reference.predicted, 0.0, pd.Series(values, dtype=object), thresholds, classes)
    window = pd.Series(values, dtype="float64")
    return numeric_drift(name, reference.predicted, 0.0, window, thresholds, reference.predicted_edges)


def not_checked(schema: SchemaParams) -> list[NotChecked]:
    """The schema's features the drift check leaves out, with why."""
    checked = set(checked_columns(schema))
    return [NotChecked(name=name, reason=NOT_CHECKED_REASON) for name in schema.columns if name not in checked]


def compare(
    reference: PreparedReference,
    window: Window,
    monitor: MonitorParams,
    predicted: np.ndarray | None,
    score_source: Literal["window", "model", "off"],
    origin: ReferenceOrigin = WORKING_TREE,
) -> DriftReport:
    """The drift report of ``window`` against ``reference`` under ``monitor``'s thresholds.

    ``predicted`` is the window's prediction (its own, or the model's task-shaped prediction of it), None when the
    prediction is not checked. ``origin`` says which model's reference it is.
    """
    thresholds = monitor.thresholds
    # Each statistic is a few small vector operations: BLAS threads waking up for each cost 1000 times the work
    # on a busy 2-core runner (a dot product of 15,000 numbers took 2 to 28 ms instead of 4 microseconds).
    with threadpool_limits(1):
        features = feature_drifts(reference, window.features, thresholds)
        score = prediction_drift(reference, predicted, thresholds) if predicted is not None else None
    drifted = [f.name for f in features if f.drift] + ([score.name] if score and score.drift else [])
    return DriftReport(
        task=reference.schema.task.value,
        drift=bool(drifted),
        drifted=drifted,
        checked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        model_version=window.model_versions[0] if window.model_versions else None,
        window=WindowFacts(
            source=window.source,
            files=window.files,
            rows=window.rows,
            skipped_lines=window.skipped_lines,
            first_timestamp=window.first_timestamp,
            last_timestamp=window.last_timestamp,
            model_versions=window.model_versions[:100],
            score_source=score_source if predicted is not None else "off",
        ),
        reference=ReferenceFacts(path=str(reference.path), rows=reference.rows, **origin.model_dump(mode="python")),
        thresholds=Thresholds(
            min_window_rows=monitor.min_window_rows, bins=monitor.bins, **thresholds.model_dump(mode="python")
        ),
        features=features,
        score=score,
        not_checked=not_checked(reference.schema),
    )


def window_prediction(
    window: Window, monitor: MonitorParams, model_path: Path, schema: SchemaParams
) -> tuple[np.ndarray | None, Literal["window", "model", "off"]]:
    """The prediction to check: the window's own, else the model's prediction of the window's rows, else none."""
    if not monitor.score:
        return None, "off"
    if window.prediction is not None:
        return window.prediction, "window"
    from gitops_ml.model_io import load_model
    from gitops_ml.pipeline.interface import score_frame

    if not model_path.exists():
        raise DriftInputError(
            f"the window has no prediction and the model {model_path} that would score it is missing; run "
            "`make repro`, or give the window its prediction (a column score, label or value, as the task has it)"
        )
    return score_frame(load_model(model_path), window.features, schema), "model"
