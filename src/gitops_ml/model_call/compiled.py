"""The service's model call, compiled: the fitted Pipeline converted to ONNX once, then run by ONNX Runtime.

``score_frame`` on one record builds a DataFrame, retypes it (``model_frame``) and runs the Pipeline's
ColumnTransformer and estimator through scikit-learn's per-call validation: 5 to 12 ms, where the model's own
arithmetic takes microseconds. :func:`compile_scorer` converts the whole fitted Pipeline (imputers, scaler, one-hot
encoder and the estimator: scikit-learn's through skl2onnx, LightGBM's and XGBoost's through onnxmltools, the rest
in ``onnx_converters.py``) to one ONNX graph and loads it into an ONNX Runtime session on one thread; a call then
turns the request's columns into one small array per feature (a ``datetime`` column into its calendar parts, by
the team's ``date_parts`` as its ``model_frame`` does) and runs the graph: tens of microseconds per record
(docs/performance-latency.md).

Converted when the service loads the model, not stored beside it: the skops file stays the only artifact (nothing
derived from it to keep in step, or to trust), a team that changes its preprocessing never meets a stale graph,
and the conversion costs a fraction of a second to a few seconds (a 200-tree forest) once per worker, before
``/readyz`` says ready.

Precision: double wherever ONNX Runtime runs the graph in double (linear models, the baseline). Tree ensembles run
in float32 only (ONNX Runtime refuses double trees; scikit-learn's forests compare in float32 themselves); their
numbers then go unscaled (``features.preprocessor(scale=False)``), so a float32 value crosses a split exactly when
the float64 one does, except for two values closer than float32 tells apart (about 7 significant digits: a feature
such as a Unix timestamp in seconds would need another encoding).

Checked before use: :func:`compile_scorer` scores probe rows (:func:`probe_columns`: every category, an unknown one,
missing values, numbers across each column's range, dates) both ways and refuses the graph (:class:`NotCompiled`,
saying by how much they differ) unless every score is within :data:`TOLERANCE` of ``score_frame``'s; a model the
converters do not know is refused too. The caller (``scorer.column_scorer``) then serves through
``score_frame``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.config import ColumnSpec, ColumnType, SchemaParams
from gitops_ml.model_call.onnx_converters import MISSING_LABEL, ONNX_OPSET, register_estimator
from gitops_ml.model_call.tree_ensembles import with_tree_ensemble_opset
from gitops_ml.pipeline.interface import date_parts, part_name
from gitops_ml.tasks import Task

PACKAGES = ("onnxruntime", "skl2onnx", "onnxmltools")
"""The pip distributions this module needs where the service runs (the bento adds them, pinned from uv.lock)."""
Columns = Mapping[str, Sequence[Any]]
"""Feature name -> one raw value per row (numbers, booleans or category labels; None or NaN for missing)."""

TOLERANCE = 1e-5
"""Largest difference from ``score_frame`` the probe check accepts: absolute on probabilities; on regression values,
relative to the largest predicted magnitude on the probe rows (at least 1). Float32 trees stay within about 1e-6."""
PROBE_ROWS = 256
"""Rows scored both ways at compile time (a few milliseconds through ``score_frame``)."""
QUICK_CALL_SECONDS = 0.0003
"""A call this short is cheaper made in the service's event loop than handed to a thread and back (about 60 us on an
idle machine, milliseconds on a busy one)."""
QUICK_CALL_MAX_ROWS = 16
"""The most rows :func:`quick_call_rows` promises (the batcher's calls of a few requests)."""
UNKNOWN_LABEL = "\x00unknown category"
"""The probe rows' category that no schema lists: it must score as scikit-learn scores an unseen one."""
TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


class NotCompiled(Exception):
    """The model cannot take the compiled path; the message says why."""


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value))


@dataclass(frozen=True)
class CompiledScorer:
    """Scores of raw request columns through an ONNX Runtime session of the whole fitted Pipeline."""

    session: Any
    """The ``onnxruntime.InferenceSession``."""
    schema: SchemaParams
    dtype: type[np.floating[Any]]
    """The graph's numeric inputs: ``np.float64`` or ``np.float32`` (tree ensembles)."""
    output: str
    classes: np.ndarray | None
    """Classification: the schema class index of each probability column of the graph (the estimator's
    ``classes_``); a class the model never saw gets 0, as in ``score_frame``."""
    path: str
    """What serves, in words (logged once by the caller)."""
    quick_call_max_rows: int = 0
    """Calls of at most this many rows take under :data:`QUICK_CALL_SECONDS` (:func:`quick_call_rows`)."""

    def feeds(self, columns: Columns) -> dict[str, np.ndarray]:
        """The graph's inputs for these rows: one (rows, 1) array per feature."""
        names = self.schema.feature_names
        absent = [name for name in names if name not in columns]
        if absent:
            raise ValueError(f"columns to score lack the model's feature(s) {', '.join(absent)}")
        lengths = {len(columns[name]) for name in names}
        if len(lengths) != 1:
            raise ValueError(f"columns to score have different lengths {sorted(lengths)}; give one value per row each")
        rows = lengths.pop()
        out: dict[str, np.ndarray] = {}
        for name, spec in self.schema.columns.items():
            if spec.type is ColumnType.DATETIME:  # its calendar parts, by the function model_frame uses
                for part, values in date_parts(name, spec, columns[name]).items():
                    out[part] = values.astype(self.dtype).reshape(rows, 1)
            else:
                out[name] = self._column(name, spec, columns[name]).reshape(rows, 1)
        return out

    def _column(self, name: str, spec: ColumnSpec, values: Sequence[Any]) -> np.ndarray:
        if spec.type is ColumnType.CATEGORY:
            return np.array([MISSING_LABEL if _is_missing(v) else str(v) for v in values], dtype=object)
        try:
            return np.asarray(values, dtype=self.dtype)  # None becomes NaN
        except (TypeError, ValueError):
            try:
                return np.array([math.nan if _is_missing(v) else float(v) for v in values], dtype=self.dtype)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: every value must be a number, a boolean or missing") from None

    def __call__(self, columns: Columns) -> np.ndarray:
        """The task's prediction for each row of ``columns``, as ``interface.score_frame`` gives it."""
        raw = self.session.run([self.output], self.feeds(columns))[0]
        if self.classes is None:
            return np.asarray(raw, dtype=np.float64).reshape(-1)
        proba = np.asarray(raw, dtype=np.float64)
        if self.schema.task is Task.BINARY and self.classes.tolist() == [0, 1]:
            return proba[:, 1]
        full = np.zeros((len(proba), len(self.schema.class_labels)), dtype=np.float64)
        full[:, self.classes] = proba
        return full[:, 1] if self.schema.task is Task.BINARY else full


def _convert(model: Any, schema: SchemaParams, double: bool) -> Any:
    """The ONNX graph of the fitted ``model`` taking one (rows, 1) input per feature of ``schema``."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    number = DoubleTensorType if double else FloatTensorType
    inputs: list[tuple[str, Any]] = []  # the columns of model_frame, in its order
    for name, spec in schema.columns.items():
        if spec.type is ColumnType.DATETIME:
            inputs += [(part_name(name, part), number([None, 1])) for part in spec.date_parts]
        elif spec.type is ColumnType.CATEGORY:
            inputs.append((name, StringTensorType([None, 1])))
        else:
            inputs.append((name, number([None, 1])))
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    options = {id(estimator): {"zipmap": False}} if schema.task.is_classification else None
    graph = convert_sklearn(model, initial_types=inputs, target_opset=ONNX_OPSET, options=options)
    return with_tree_ensemble_opset(graph)


def _session(graph: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # requests already run in parallel across workers
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: not its notes on unused initialisers
    return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _compile_graph(model: Any, schema: SchemaParams) -> tuple[Any, type[np.floating[Any]]]:
    """The session and its numeric precision: float32 for tree ensembles, else double if the session loads."""
    try:
        graph = _convert(model, schema, double=False)
    except Exception as exc:  # skl2onnx raises bare RuntimeErrors and its own types for what it cannot convert
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotCompiled(f"skl2onnx cannot convert the Pipeline ({first[:300]})") from exc
    if not any(node.op_type in TREE_OPS for node in graph.graph.node):
        try:
            return _session(_convert(model, schema, double=True)), np.float64
        except Exception:  # noqa: S110  # an op without double kernels in this ONNX Runtime: float32 below
            pass
    return _session(graph), np.float32


def _classes(model: Any, schema: SchemaParams) -> np.ndarray | None:
    if not schema.task.is_classification:
        return None
    classes = np.asarray(getattr(model, "classes_", []))
    known = len(schema.class_labels)
    if not classes.size or classes.dtype.kind not in "iu" or classes.min() < 0 or classes.max() >= known:
        raise NotCompiled(f"the model's classes {classes.tolist()} are not class indices 0..{known - 1}")
    return classes.astype(np.intp)


PROBE_DATES = (
    "2012-01-31", "2016-02-29T23:59:59", "2019-06-15 13:45", "2020-12-31T00:30:00Z", "2023-03-05T08:15:00+02:00",
    "2024-07-04T18:00:00", "2025-10-13", "2031-04-01T06:05:04.5",
)  # fmt: skip
"""A ``datetime`` column's probe values: every month part of a year apart, weekdays and weekends, hours, offsets."""


def _number_candidates(spec: ColumnSpec) -> list[Any]:
    if spec.type is ColumnType.BOOL:
        return [True, False, None]
    low = spec.min if spec.min is not None else -1e4
    high = spec.max if spec.max is not None else 1e4
    steps = (0, 0.1, 0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4)
    values = {*np.linspace(low, high, 9), *(low + s for s in steps if low + s <= high)}
    if spec.type is ColumnType.INT:
        values = {float(round(v)) for v in values}
    return [None, *sorted(float(v) for v in values)]


def probe_columns(schema: SchemaParams, rows: int = PROBE_ROWS, seed: int = 0) -> dict[str, list[Any]]:
    """Rows that exercise what the model learned: each column's every category, an unknown one, missing values,
    numbers across its range (the schema's bounds, else +-10,000) and dates (:data:`PROBE_DATES`), each value at
    least once, mixed at random."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list[Any]] = {}
    for name, spec in schema.columns.items():
        if spec.type is ColumnType.CATEGORY:
            candidates: list[Any] = [*(spec.categories or []), UNKNOWN_LABEL, None]
        elif spec.type is ColumnType.DATETIME:
            candidates = [*PROBE_DATES, None]
        else:
            candidates = _number_candidates(spec)
        tiled = [candidates[i % len(candidates)] for i in range(max(rows, len(candidates)))]
        columns[name] = [tiled[i] for i in rng.permutation(len(tiled))]
    return columns


def max_difference(task: Task, got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    """(largest absolute difference, the largest :data:`TOLERANCE` allows) between two predictions of ``task``."""
    if got.shape != want.shape:
        return math.inf, 0.0
    difference = float(np.max(np.abs(got - want), initial=0.0))
    if np.isnan(got).any() != np.isnan(want).any():
        difference = math.inf
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0))) if task is Task.REGRESSION else 1.0
    return difference, TOLERANCE * scale


def check(scorer: CompiledScorer, model: Any, schema: SchemaParams, probe: Columns) -> float:
    """The largest difference from ``score_frame`` on the ``probe`` rows; :class:`NotCompiled` beyond the tolerance."""
    from gitops_ml.pipeline.interface import score_frame

    want = score_frame(model, pd.DataFrame({name: list(values) for name, values in probe.items()}), schema)
    got = scorer(probe)
    difference, allowed = max_difference(schema.task, got, want)
    if not difference <= allowed:
        raise NotCompiled(
            f"the compiled scores differ from score_frame's on {len(want)} probe rows by up to {difference:.3g} "
            f"(tolerance {allowed:.3g})"
        )
    return difference


def compile_scorer(model: Any, schema: SchemaParams) -> CompiledScorer:
    """The compiled scorer of the fitted ``model`` (a Pipeline from raw features) for ``schema``, checked.

    Raises :class:`NotCompiled` saying why when the model cannot be converted or loaded, or when its compiled
    scores differ from ``score_frame``'s on the probe rows by more than :data:`TOLERANCE`.
    """
    started = time.perf_counter()
    classes = _classes(model, schema)
    register_estimator(model.steps[-1][1] if hasattr(model, "steps") else model)
    session, dtype = _compile_graph(model, schema)
    outputs = [output.name for output in session.get_outputs()]
    output = outputs[1] if schema.task.is_classification and len(outputs) > 1 else outputs[0]
    precision = "double" if dtype is np.float64 else "float32"
    scorer = CompiledScorer(session, schema, dtype, output, classes, path="")
    probe = probe_columns(schema)
    difference = check(scorer, model, schema, probe)
    quick = quick_call_rows(scorer, probe)
    path = (
        f"ONNX Runtime, the whole Pipeline in {precision}, compiled in {time.perf_counter() - started:.1f} s "
        f"(probe rows within {difference:.1g} of score_frame; calls of up to {quick} rows in the event loop)"
    )
    return CompiledScorer(session, schema, dtype, output, classes, path, quick)


def _seconds(scorer: CompiledScorer, columns: Columns, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        scorer(columns)
        best = min(best, time.perf_counter() - started)
    return best


def quick_call_rows(scorer: CompiledScorer, probe: Columns) -> int:
    """How many rows a call takes within :data:`QUICK_CALL_SECONDS` (at most :data:`QUICK_CALL_MAX_ROWS`), from timing
    ``scorer`` on one row and on the ``probe`` rows: a 200-tree binary model scores 16 rows in about 0.2 ms, a forest
    of deep trees or 1000 trees of a 5-class model far fewer. On a busy machine the timings grow and the answer
    shrinks, which only costs a thread hand-over."""
    rows = len(next(iter(probe.values())))
    one = _seconds(scorer, {name: values[:1] for name, values in probe.items()}, repeats=5)
    per_row = max(_seconds(scorer, probe, repeats=2) - one, 0.0) / max(rows - 1, 1)
    if one >= QUICK_CALL_SECONDS:
        return 0
    if per_row == 0:
        return QUICK_CALL_MAX_ROWS
    return min(QUICK_CALL_MAX_ROWS, 1 + int((QUICK_CALL_SECONDS - one) / per_row))
