"""The drift check: every feature and the predicted score of a window against the training reference.

:class:`DriftReport` is the schema of ``reports/drift.json``; :mod:`~gitops_ml.monitoring.render` turns it into
``drift.md``. A feature drifts when one of its statistics is above its threshold in ``monitor.thresholds``
(params.yaml); the window drifts when a feature or the score does. Numbers (``float``, ``int``) get PSI,
Wasserstein and KS; categories and booleans get PSI and Jensen-Shannon and, for categories, the share of values
the reference never had; every feature gets the change of its missing share.
"""

from __future__ import annotations

import datetime as dt
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
from gitops_ml.monitoring.reference import SCORE_COLUMN
from gitops_ml.monitoring.reference_source import ReadFrom
from gitops_ml.monitoring.window import Window

SCHEMA_VERSION: Literal[2] = 2
"""2: the reference says what it is (the commit, release and choice it came from)."""
SCORE_NAME = "predicted score"
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
    """The body of ``reports/drift.json``."""

    schema_version: Literal[2] = SCHEMA_VERSION
    drift: bool
    drifted: list[Text]
    """Names of the drifted features, then ``predicted score`` when the score drifted."""
    checked_at: Text
    model_version: Text | None
    """The window's (most frequent) model version, when its records name one."""
    window: WindowFacts
    reference: ReferenceFacts
    thresholds: Thresholds
    features: list[FeatureDrift]
    score: FeatureDrift | None


# --- the reference, prepared once ---


@dataclass
class PreparedReference:
    """The reference split by feature: each one's present values, missing share and (numbers) quantile bins.

    Computed once, so many windows can be compared with one reference (the benchmark compares hundreds).
    """

    frame: pd.DataFrame
    schema: SchemaParams
    bins: int
    path: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    """Present values: a float array for a number and the score, a text Series for a category or boolean."""
    missing: dict[str, float] = field(default_factory=dict)
    edges: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, spec in self.schema.columns.items():
            column = self.frame[name]
            self.missing[name] = stats.missing_share(column)
            if spec.type in NUMERIC_TYPES:
                self.values[name] = _present(column)
                self.edges[name] = stats.quantile_edges(self.values[name], self.bins)
            else:
                self.values[name] = _as_category(column, spec.type).dropna()
        self.values[SCORE_COLUMN] = _present(self.frame[SCORE_COLUMN])
        self.missing[SCORE_COLUMN] = 0.0
        self.edges[SCORE_COLUMN] = stats.quantile_edges(self.values[SCORE_COLUMN], self.bins)

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
    name: str, reference: pd.Series, reference_missing: float, window: pd.Series, thresholds: DriftThresholds
) -> FeatureDrift:
    """Statistics of a category (or boolean) feature: drifted when PSI, Jensen-Shannon, the change of the missing
    share or the share of unseen categories is above its threshold. ``reference`` holds the present values as text.
    """
    distances = stats.category_distances(reference, window.dropna())
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
    """Every feature of the schema, in schema order (``window`` typed as :func:`check_window` returns it)."""
    results = []
    for name, spec in reference.schema.columns.items():
        ref, missing = reference.values[name], reference.missing[name]
        if spec.type in NUMERIC_TYPES:
            results.append(numeric_drift(name, ref, missing, window[name], thresholds, reference.edges[name]))
        else:
            results.append(category_drift(name, ref, missing, _as_category(window[name], spec.type), thresholds))
    return results


def score_drift(reference: PreparedReference, scores: np.ndarray, thresholds: DriftThresholds) -> FeatureDrift:
    """The predicted score compared as a number."""
    ref, edges = reference.values[SCORE_COLUMN], reference.edges[SCORE_COLUMN]
    return numeric_drift(SCORE_NAME, ref, 0.0, pd.Series(scores, dtype="float64"), thresholds, edges)


def compare(
    reference: PreparedReference,
    window: Window,
    monitor: MonitorParams,
    scores: np.ndarray | None,
    score_source: Literal["window", "model", "off"],
    origin: ReferenceOrigin = WORKING_TREE,
) -> DriftReport:
    """The drift report of ``window`` against ``reference`` under ``monitor``'s thresholds.

    ``scores`` are the window's predicted scores (its own, or the model's of it), None when the score is not checked.
    ``origin`` says which model's reference it is.
    """
    thresholds = monitor.thresholds
    # Each statistic is a few small vector operations: BLAS threads waking up for each cost 1000 times the work
    # on a busy 2-core runner (a dot product of 15,000 numbers took 2 to 28 ms instead of 4 microseconds).
    with threadpool_limits(1):
        features = feature_drifts(reference, window.features, thresholds)
        score = score_drift(reference, scores, thresholds) if scores is not None else None
    drifted = [f.name for f in features if f.drift] + ([score.name] if score and score.drift else [])
    return DriftReport(
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
            score_source=score_source if scores is not None else "off",
        ),
        reference=ReferenceFacts(path=str(reference.path), rows=reference.rows, **origin.model_dump(mode="python")),
        thresholds=Thresholds(
            min_window_rows=monitor.min_window_rows, bins=monitor.bins, **thresholds.model_dump(mode="python")
        ),
        features=features,
        score=score,
    )


def window_scores(
    window: Window, monitor: MonitorParams, model_path: Path, schema: SchemaParams
) -> tuple[np.ndarray | None, Literal["window", "model", "off"]]:
    """The scores to check: the window's own, else the model's score of the window's rows, else none (off)."""
    if not monitor.score:
        return None, "off"
    if window.score is not None:
        return window.score, "window"
    from gitops_ml.model_io import load_model
    from gitops_ml.pipeline.interface import score_frame

    if not model_path.exists():
        raise DriftInputError(
            f"the window has no score column and the model {model_path} that would score it is missing; run "
            "`make repro`, or give the window a score column"
        )
    return score_frame(load_model(model_path), window.features, schema), "model"
