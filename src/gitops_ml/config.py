"""Typed view of ``params.yaml``: the one place configuration is read and validated.

Every stage, the gate and the service call :func:`load_params`. Unknown keys are forbidden, so a typo in
``params.yaml`` fails at once with the key's dotted path instead of being silently ignored.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
    model_validator,
)

from gitops_ml.errors import ConfigError
from gitops_ml.model_metrics import DEFAULT_FLOORS, DEFAULT_GUARDS, DEFAULT_PRIMARY_METRIC, METRICS, MetricName
from gitops_ml.pipeline.estimators import DEFAULT_ESTIMATOR, ESTIMATORS, EstimatorParams, estimators_for
from gitops_ml.tasks import DEFAULT_TASK, Task

DEFAULT_PARAMS_PATH = Path("params.yaml")


class StrictModel(BaseModel):
    """Base for every config section: unknown keys and silent coercions are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnType(StrEnum):
    """The column kinds a data contract knows."""

    FLOAT = "float"
    INT = "int"
    CATEGORY = "category"
    BOOL = "bool"
    DATETIME = "datetime"
    """An ISO 8601 date or date and time (``2012-01-01``, ``2012-01-01 08:30:00``); the model sees its calendar
    parts (``parts``). A time with an offset (``+02:00``, ``Z``) is read in UTC."""


class DatePart(StrEnum):
    """A calendar part of a ``datetime`` column that becomes a numeric feature named ``<column>_<part>``."""

    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    DAY_OF_WEEK = "day_of_week"
    """Monday 0 to Sunday 6."""
    HOUR = "hour"


DEFAULT_DATE_PARTS = (DatePart.YEAR, DatePart.MONTH, DatePart.DAY, DatePart.DAY_OF_WEEK)
"""The parts of a ``datetime`` column whose ``parts`` are left out (a date: no hour)."""


class ColumnSpec(StrictModel):
    """Contract for one input column."""

    type: ColumnType
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    parts: list[DatePart] | None = None
    """``datetime`` only: the calendar parts the model sees (default :data:`DEFAULT_DATE_PARTS`)."""
    description: str = ""

    @model_validator(mode="after")
    def _check_kind(self) -> ColumnSpec:
        if self.type is ColumnType.CATEGORY and not self.categories:
            raise ValueError("a 'category' column needs a non-empty 'categories' list")
        if self.type is not ColumnType.CATEGORY and self.categories is not None:
            raise ValueError(f"'categories' only applies to 'category' columns, not '{self.type}'")
        if self.type not in (ColumnType.FLOAT, ColumnType.INT) and (self.min is not None or self.max is not None):
            raise ValueError(f"'min'/'max' only apply to numeric columns, not '{self.type}'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.parts is not None:
            if self.type is not ColumnType.DATETIME:
                raise ValueError(f"'parts' only applies to 'datetime' columns, not '{self.type}'")
            if not self.parts or len(set(self.parts)) != len(self.parts):
                raise ValueError(f"'parts' must list each calendar part once, at least one (got {self.parts})")
        return self

    @property
    def date_parts(self) -> tuple[DatePart, ...]:
        """The calendar parts a ``datetime`` column gives the model (none for other types)."""
        if self.type is not ColumnType.DATETIME:
            return ()
        return tuple(self.parts) if self.parts is not None else DEFAULT_DATE_PARTS


# Fields of each prediction the service returns (for any task): an id column of that name would collide with them.
PREDICTION_FIELDS = frozenset({"label", "probability", "probabilities", "value"})
TargetValue = StrictBool | StrictInt | StrictStr


class SchemaParams(StrictModel):
    """The data contract: the task, the target, feature columns and id columns."""

    task: Task = DEFAULT_TASK
    """What the model predicts: ``binary``, ``multiclass`` or ``regression`` (``make init-data`` infers it)."""
    target: str
    """The label column: two classes (binary), the listed ``classes`` (multiclass) or a number (regression).
    Rows whose target is missing are unlabelled: ``validate`` leaves them out and counts them."""
    positive_class: TargetValue | None = None
    """Binary: the target's value that means positive (1 in the validated data); 1, true or a label such as "yes".
    Default 1."""
    negative_class: TargetValue | None = None
    """Binary: the target's other value (0 in the validated data). Default 0. Any third value breaks the contract."""
    classes: list[TargetValue] | None = None
    """Multiclass: every class the target may take, in the order the model's probabilities follow (the validated
    data holds each class's position). Any other value breaks the contract."""
    target_min: float | None = None
    """Regression: the smallest target value the contract accepts (None: no bound)."""
    target_max: float | None = None
    """Regression: the largest target value the contract accepts (None: no bound)."""
    columns: dict[str, ColumnSpec]
    ids: list[str] = []
    """Identifier columns: required in the data, kept through validate and split, never features. The service
    accepts them in a record and echoes them in its prediction."""
    min_rows: int = Field(default=100, ge=1)
    """Fewest labelled rows the data may have."""
    max_target_rate: float = Field(default=0.5, gt=0, le=1)
    """Binary: the highest share of positive rows."""
    min_target_rate: float = Field(default=0.001, ge=0, lt=1)
    """Binary: the lowest share of positive rows."""
    min_class_rows: int = Field(default=5, ge=1)
    """Classification: fewest labelled rows of each class (a rarer class cannot be split, trained and scored)."""

    @model_validator(mode="before")
    @classmethod
    def _binary_class_defaults(cls, raw: Any) -> Any:
        """A binary contract that names no classes means 1 (positive) and 0 (negative), as before tasks existed."""
        if isinstance(raw, dict) and raw.get("task", DEFAULT_TASK.value) == Task.BINARY.value:
            return {"positive_class": 1, "negative_class": 0} | raw
        return raw

    @model_validator(mode="after")
    def _check_target(self) -> SchemaParams:
        if not self.columns:
            raise ValueError("'columns' must name at least one feature column")
        if self.target in self.columns:
            raise ValueError(f"target '{self.target}' must not also be listed under 'columns'")
        {Task.BINARY: self._check_binary, Task.MULTICLASS: self._check_multiclass, Task.REGRESSION: self._check_range}[
            self.task
        ]()
        self._check_only_for(Task.BINARY, positive_class=self.positive_class, negative_class=self.negative_class)
        self._check_only_for(Task.MULTICLASS, classes=self.classes)
        self._check_only_for(Task.REGRESSION, target_min=self.target_min, target_max=self.target_max)
        self._check_ids()
        return self

    def _check_only_for(self, task: Task, **keys: Any) -> None:
        for key, value in keys.items():
            if value is not None and self.task is not task:
                raise ValueError(f"'{key}' applies to task {task.value} only, not {self.task.value}: remove it")

    def _check_binary(self) -> None:
        if self.positive_class == self.negative_class or type(self.positive_class) is not type(self.negative_class):
            raise ValueError(
                f"positive_class ({self.positive_class!r}) and negative_class ({self.negative_class!r}) must be two "
                "different values of the same kind (1 and 0, true and false, or two labels)"
            )
        if self.min_target_rate > self.max_target_rate:
            raise ValueError(
                f"min_target_rate ({self.min_target_rate}) is greater than max_target_rate ({self.max_target_rate})"
            )

    def _check_multiclass(self) -> None:
        classes = self.classes or []
        if len(classes) < 3:
            raise ValueError(
                f"task multiclass needs 'classes' listing at least 3 classes (got {classes!r}); with two, use "
                "task: binary with positive_class and negative_class"
            )
        if len({(type(c), c) for c in classes}) != len(classes):
            raise ValueError(f"'classes' lists a class twice: {classes!r}")
        if len({type(c) for c in classes}) != 1:
            raise ValueError(f"'classes' must all be of one kind (all numbers or all labels): {classes!r}")

    def _check_range(self) -> None:
        if self.target_min is not None and self.target_max is not None and self.target_min > self.target_max:
            raise ValueError(f"target_min ({self.target_min}) is greater than target_max ({self.target_max})")

    @property
    def class_labels(self) -> list[TargetValue]:
        """Classification: the classes in the order of their index in the validated data and the model's
        probabilities (binary: negative, positive). Empty for regression."""
        if self.task is Task.MULTICLASS:
            return list(self.classes or [])
        if self.task is Task.BINARY:
            return [self.negative_class, self.positive_class]  # type: ignore[list-item]  # set for binary
        return []

    def _check_ids(self) -> None:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError(f"'ids' lists a column twice: {self.ids}")
        for name in self.ids:
            if name in self.columns or name == self.target:
                raise ValueError(f"id column '{name}' must not also be a feature (columns) or the target")
            if name in PREDICTION_FIELDS:
                raise ValueError(
                    f"id column '{name}' would collide with the prediction's '{name}' field; rename the column"
                )

    @property
    def feature_names(self) -> list[str]:
        """Feature columns in the order the model sees them."""
        return list(self.columns)

    def names_of(self, *kinds: ColumnType) -> list[str]:
        """Feature columns of the given kinds, in schema order."""
        return [name for name, spec in self.columns.items() if spec.type in kinds]


class ProjectParams(StrictModel):
    """What the model is and who answers for it: quoted by reports, release notes and the model card."""

    name: str = Field(default="gitops-ml-model", pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$", max_length=63)
    """Short name (letters, digits, ``_ . -`` between them; at most 63): the MLflow experiment unless
    ``tracking.experiment`` is set, and the bento's name (in lower case: ``bentoml list``, the image's labels)."""
    positive_label: str = Field(default="positive", min_length=1)
    """How reports name the positive class (``schema.positive_class``), e.g. "churned"."""
    negative_label: str = Field(default="negative", min_length=1)
    """How reports name the negative class, e.g. "stayed"."""
    intended_use: str = ""
    limitations: str = ""
    owner: str = ""

    @model_validator(mode="after")
    def _check_labels(self) -> ProjectParams:
        if self.positive_label == self.negative_label:
            raise ValueError(f"positive_label and negative_label are both '{self.positive_label}'")
        return self


class SampleParams(StrictModel):
    """The built-in synthetic sample (the plug-in ``pipeline/sample_data.py``): how many rows, which seed."""

    rows: int = Field(default=20_000, ge=100)
    seed: int = 42


class DataParams(StrictModel):
    """Where the raw data lives, and whether it is the built-in sample."""

    path: Path
    """The raw data file (CSV or parquet) in ``data/``, tracked by ``data.dvc``."""
    sample: SampleParams | None = None
    """Set only while the data is the built-in sample: then ``ensure-data`` may regenerate it when neither the DVC
    cache nor a remote has it. Left out (your own data), ``ensure-data`` only restores or pulls."""


class SplitParams(StrictModel):
    """Hold-out split of the validated data: random (seeded), or the latest rows by a date column."""

    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42
    stratify: bool = True
    """Classification: keep each class's share equal in train and test (regression splits plainly)."""
    time_column: str | None = None
    """A ``datetime`` column of ``schema.columns``: hold out the latest ``test_size`` of the rows by it instead of a
    random split (``seed`` and ``stratify`` then do not apply); rows without a date stay in train."""

    def check_time_column(self, schema: SchemaParams) -> None:
        """Raise ValueError unless ``time_column`` is unset or a ``datetime`` column of ``schema``."""
        name = self.time_column
        if name is None:
            return
        spec = schema.columns.get(name)
        if spec is None or spec.type is not ColumnType.DATETIME:
            dates = schema.names_of(ColumnType.DATETIME)
            found = "not a column of schema.columns" if spec is None else f"a {spec.type} column"
            raise ValueError(
                f"split.time_column: '{name}' is {found}; name a datetime column ("
                + (", ".join(dates) if dates else "the schema has none")
                + ") or remove the key for a random split"
            )


# One enum member per registered estimator (pipeline/estimators.py), e.g. Estimator.HIST_GRADIENT_BOOSTING.
# misc: mypy types only enums whose members it can read; these come from the registry at run time.
Estimator = StrEnum("Estimator", {name.upper(): name for name in ESTIMATORS})  # type: ignore[misc]
Estimator.__doc__ = "The estimators ``train.estimator`` may name (the registry in ``pipeline/estimators.py``)."


class _TrainBase(StrictModel):
    """Which estimator to fit, its seed, and (fields added from the registry) the hyperparameters of each."""

    estimator: Estimator = Estimator(DEFAULT_ESTIMATOR)
    seed: int = 42

    @property
    def estimator_params(self) -> EstimatorParams:
        """The chosen estimator's hyperparameters model (its ``build(task, seed)`` makes the estimator)."""
        chosen: EstimatorParams = getattr(self, self.estimator.value)  # the fields are made from the registry
        return chosen

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Hyperparameters of the chosen estimator."""
        return self.estimator_params.model_dump()

    @staticmethod
    def trusted_types() -> frozenset[str]:
        """Every type the fitted model of a registered estimator holds that skops does not trust by default."""
        return frozenset(name for params in ESTIMATORS.values() for name in params.trusted_types)

    @property
    def packages(self) -> tuple[str, ...]:
        """The pip distributions a model of the chosen estimator needs to load, beyond the service's own."""
        return self.estimator_params.packages

    def check_task(self, task: Task) -> None:
        """Raise :class:`ConfigError` when the chosen estimator cannot be built for ``task``, naming those that can."""
        if task not in self.estimator_params.tasks:
            raise ConfigError(
                f"train.estimator: '{self.estimator.value}' does not support task {task.value} (schema.task); "
                f"choose one of {', '.join(estimators_for(task))}"
            )


# ``train:``: estimator, seed and one section per registered estimator, defaults applying to a section left out.
# call-overload: create_model's overloads cannot type fields passed as **kwargs, here built from the registry.
TrainParams = create_model(
    "TrainParams",
    __base__=_TrainBase,
    __doc__=_TrainBase.__doc__,
    **{name: (params, params()) for name, params in ESTIMATORS.items()},  # type: ignore[call-overload]
)


class BootstrapParams(StrictModel):
    """Bootstrap confidence intervals on the test set (noise estimate for reports and the gate)."""

    n_resamples: int = Field(default=200, ge=10, le=10_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 0


class EvaluateParams(StrictModel):
    """Scoring of the trained model on the hold-out set."""

    threshold: float = Field(default=0.5, gt=0, lt=1)
    calibration_bins: int = Field(default=10, ge=2, le=100)
    bootstrap: BootstrapParams = BootstrapParams()


class GateParams(StrictModel):
    """Rules a candidate model must pass to replace the released one (the champion).

    Metric names are those of the task's metrics (:mod:`gitops_ml.model_metrics`); keys left out take the task's
    defaults (``DEFAULT_PRIMARY_METRIC``, ``DEFAULT_GUARDS``, floors a model with no skill fails).
    """

    primary_metric: MetricName = DEFAULT_PRIMARY_METRIC[DEFAULT_TASK]
    min_improvement: float = Field(default=0.002, ge=0)
    guards: dict[MetricName, Annotated[float, Field(ge=0)]] = DEFAULT_GUARDS[DEFAULT_TASK]
    floors: dict[MetricName, float] = DEFAULT_FLOORS[DEFAULT_TASK]
    require_significant: bool = False

    def check_metrics(self, task: Task) -> None:
        """Raise ValueError naming the first rule whose metric is not one of ``task``'s."""
        known = METRICS[task]
        named = [("primary_metric", self.primary_metric)]
        named += [(f"guards.{m}", m) for m in self.guards] + [(f"floors.{m}", m) for m in self.floors]
        for key, name in named:
            if name not in known:
                raise ValueError(
                    f"gate.{key}: '{name}' is not a metric of task {task.value}; choose one of {', '.join(known)}"
                )


class PredictionLogParams(StrictModel):
    """The service's prediction log (``serving.prediction_log``; format and knobs in docs/prediction-log.md).

    Each scored record (the schema's ids and features, score, label, model version, request id, timestamp) is
    written in a JSON line per request (its records as columns), off the request path: a bounded queue per worker
    process feeds a writer thread, and when the queue is full records are dropped and counted, never waited for.
    ``GITOPS_ML_PREDICTION_LOG`` overrides ``location`` at run time (``off`` turns the log off).
    """

    enabled: bool = True
    location: str = Field(default="logs/predictions", min_length=1)
    """A local directory (a relative one is taken from where the server was started), or an fsspec URL such as
    ``s3://bucket/predictions`` or ``gs://...`` to which each closed file is uploaded."""
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    """Share of scored records written (each record kept with this probability)."""
    max_file_mb: float = Field(default=64, gt=0)
    """A file is closed (and uploaded, for a URL) once it holds this many megabytes..."""
    max_file_minutes: float = Field(default=60, gt=0)
    """...or once it has been open this long, whichever comes first."""
    compress: bool = False
    """Gzip closed files (``.jsonl.gz``)."""
    queue_records: int = Field(default=10_000, ge=1)
    """Records waiting for the writer, per worker process; beyond this, records are dropped and counted."""


class ServingParams(StrictModel):
    """Limits and sizing of the prediction service (see ``src/gitops_ml/serving/``)."""

    max_records: int = Field(default=1000, ge=1)
    max_batch_size: int = Field(default=256, ge=1)
    """Most records per model call when queued requests are batched together (a larger request runs alone)."""
    workers: int = Field(default=1, ge=1, le=64)
    """Server worker processes, each with its own copy of the model."""
    prediction_log: PredictionLogParams = PredictionLogParams()
    """Where and how much of the scored traffic is recorded (the drift check's input)."""


class TrackingParams(StrictModel):
    """MLflow tracking; the URI itself comes from ``MLFLOW_TRACKING_URI`` (default: local sqlite)."""

    enabled: bool = True
    experiment: str = ProjectParams.model_fields["name"].default
    """MLflow experiment (and registered model) name; when params.yaml leaves it out, ``project.name``."""
    default_uri: str = "sqlite:///mlflow.db"


DriftThreshold = Annotated[float | None, Field(gt=0)]


class DriftThresholds(StrictModel):
    """Distances at which a feature (or the predicted score) counts as drifted; ``None`` switches a check off.

    Distances, not p-values: on a large window a test finds a negligible change "significant", while a distance
    measures how large the change is, whatever the window's size. The defaults keep the false-alarm rate of a whole
    check (every feature and the score) under 5% on unshifted windows of 500 rows, the default
    ``min_window_rows`` (``make bench``'s drift benchmark measures it); a smaller window is noisier.
    """

    psi: DriftThreshold = 0.1
    """Population stability index over the reference's quantile bins (numbers) or the categories; by the usual
    rule of thumb below 0.1 is stable, 0.1-0.2 a moderate and above 0.2 a large shift."""
    wasserstein: DriftThreshold = 0.2
    """Earth mover's distance between the numbers, in units of the reference's standard deviation."""
    ks: DriftThreshold = 0.15
    """Kolmogorov-Smirnov statistic: the largest gap between the two cumulative distributions (0-1)."""
    jensen_shannon: DriftThreshold = 0.15
    """Jensen-Shannon distance (base 2, 0-1) between the category shares."""
    missing_rate: DriftThreshold = 0.05
    """Change of the share of missing values, in absolute terms (0.05 = five percentage points)."""
    unseen_share: DriftThreshold = 0.005
    """Share of a category column's values that the reference never had."""


class MonitorParams(StrictModel):
    """The drift check (``gitops-ml drift``): the smallest window it judges and its thresholds; and when the one
    open drift issue is closed again (``gitops-ml drift-issue``)."""

    min_window_rows: int = Field(default=500, ge=50)
    """A smaller window is refused: its distances are mostly sampling noise."""
    bins: int = Field(default=10, ge=2, le=100)
    """Quantile bins of the reference for a number's PSI and the report's charts."""
    score: bool = True
    """Also check the predicted score (the window's ``score``, or the model's score of the window)."""
    thresholds: DriftThresholds = DriftThresholds()
    clear_runs_to_close: int = Field(default=3, ge=1, le=100)
    """Consecutive monitoring runs without drift after which ``gitops-ml drift-issue`` closes the drift issue
    (monitor.yml)."""


class Engine(StrEnum):
    """Where the stages compute (``compute.engine``)."""

    LOCAL = "local"
    """In this process, the data in memory (the default)."""
    DASK = "dask"
    """On a Dask cluster, partition by partition (docs/scale-out-dask.md)."""


SCHEDULER_ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
"""The environment variable that names a running Dask scheduler; it overrides ``compute.scheduler_address``."""


class ComputeParams(StrictModel):
    """Where the stages compute: in this process (``local``) or on a Dask cluster (``dask``, docs/scale-out-dask.md).

    With ``dask``, validate, split, evaluate and ``gitops-ml score`` work on the data partition by partition, and
    LightGBM and XGBoost train on the cluster's workers. The cluster is the one at ``DASK_SCHEDULER_ADDRESS`` (or
    ``scheduler_address``), else a local one that the stage starts with ``workers`` processes and stops at its end.
    """

    engine: Engine = Engine.LOCAL
    scheduler_address: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9+]*://\S+$")
    """A running scheduler, e.g. ``tcp://10.0.0.5:8786``; ``DASK_SCHEDULER_ADDRESS`` overrides it. Unset: each
    stage starts a local cluster of ``workers`` processes."""
    workers: int = Field(default=2, ge=1, le=256)
    """Worker processes of the local cluster."""
    threads_per_worker: int = Field(default=1, ge=1, le=64)
    """Threads of each local worker: one partition in memory per thread."""
    memory_limit: str = Field(default="2GiB", pattern=r"^(auto|\d+(\.\d+)?\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB))$")
    """Memory of each local worker (``auto``: the machine's memory shared by the workers). Dask pauses a worker at
    80% of it and restarts it at 95%."""
    partition_mb: float = Field(default=64, gt=0, le=4096)
    """Megabytes of source data per partition: a CSV is cut into blocks of this size, parquet row groups are grouped
    up to it (a row group is never cut)."""
    preprocess_sample_rows: int = Field(default=100_000, ge=1000)
    """Training on the cluster fits the model's preprocessing (imputation, scaling) on a seeded sample of at most
    this many training rows, then transforms every partition with it."""
    connect_timeout_s: float = Field(default=10, gt=0)
    """How long to wait for the scheduler (and its first worker) before giving up."""
    train_timeout_s: float = Field(default=3600, gt=0)
    """Longest a training on the cluster may take: a worker that dies can leave LightGBM waiting for ever."""

    @property
    def on_cluster(self) -> bool:
        """True when the stages compute on a Dask cluster."""
        return self.engine is Engine.DASK


class Params(StrictModel):
    """The whole of ``params.yaml``."""

    project: ProjectParams = ProjectParams()
    data: DataParams
    schema_: SchemaParams = Field(alias="schema")
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    gate: GateParams = GateParams()
    serving: ServingParams = ServingParams()
    tracking: TrackingParams = TrackingParams()
    monitor: MonitorParams = MonitorParams()
    compute: ComputeParams = ComputeParams()

    @model_validator(mode="before")
    @classmethod
    def _gate_defaults_to_task(cls, raw: Any) -> Any:
        """Gate rules left out take the task's defaults (a binary project keeps the ones it always had)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("schema"), dict):
            return raw
        task_name = raw["schema"].get("task", DEFAULT_TASK.value)
        gate = raw.get("gate", {})
        if task_name == DEFAULT_TASK.value or task_name not in Task.__members__.values() or not isinstance(gate, dict):
            return raw
        task = Task(task_name)
        defaults = {
            "primary_metric": DEFAULT_PRIMARY_METRIC[task],
            "guards": DEFAULT_GUARDS[task],
            "floors": DEFAULT_FLOORS[task],
        }
        return raw | {"gate": defaults | gate}

    @model_validator(mode="after")
    def _gate_names_task_metrics(self) -> Params:
        self.gate.check_metrics(self.schema_.task)
        return self

    @model_validator(mode="after")
    def _time_column_is_a_date(self) -> Params:
        self.split.check_time_column(self.schema_)
        return self

    @model_validator(mode="after")
    def _estimator_supports_task(self) -> Params:
        self.train.check_task(self.schema_.task)
        return self

    @property
    def task(self) -> Task:
        """The project's task (``schema.task``)."""
        return self.schema_.task

    @model_validator(mode="before")
    @classmethod
    def _experiment_defaults_to_project(cls, raw: Any) -> Any:
        """``tracking.experiment`` left out means the project's name (filled in before the sections validate)."""
        if not isinstance(raw, dict):
            return raw
        tracking, project = raw.get("tracking", {}), raw.get("project", {})
        name = project.get("name") if isinstance(project, dict) else None
        if isinstance(tracking, dict) and "experiment" not in tracking and isinstance(name, str):
            return raw | {"tracking": tracking | {"experiment": name}}
        return raw

    @cached_property
    def schema(self) -> SchemaParams:  # type: ignore[override]  # replaces pydantic's deprecated schema() method
        """The data contract (``schema:`` in params.yaml)."""
        return self.schema_


def _format_error(error: Any) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "(top level)"  # by alias: `schema`, as the file says
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"  {path}: unknown key; remove it or fix its spelling"
    if kind == "missing":
        return f"  {path}: required key is missing"
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return f"  {path}: {error['msg']}{shown}"


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-loaded YAML document; raise :class:`ConfigError` naming each bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = "\n".join(_format_error(err) for err in exc.errors())
        raise ConfigError(f"{source} is invalid ({exc.error_count()} problem(s)):\n{lines}") from None


def parse_schema(raw: Any, source: str) -> SchemaParams:
    """Validate the ``schema:`` section alone (``raw``: a whole params.yaml document, e.g. another commit's, which
    the rest of this version's :class:`Params` need not accept); raise :class:`ConfigError` naming each bad key."""
    section = raw.get("schema") if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: has no schema section (a mapping under `schema:`)")
    try:
        return SchemaParams.model_validate(section)
    except ValidationError as exc:
        lines = "\n".join(_format_error(err | {"loc": ("schema", *err["loc"])}) for err in exc.errors())
        raise ConfigError(f"{source}: schema is invalid ({exc.error_count()} problem(s)):\n{lines}") from None


def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Read and validate ``params.yaml``; raise :class:`ConfigError` with the key path on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; run from the repository root or pass --params") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, source=str(path))
