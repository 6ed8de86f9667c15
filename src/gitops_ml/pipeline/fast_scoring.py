"""A serving-time path through the fitted model: request columns straight to scores, with no DataFrame.

``score_frame`` on one record builds a DataFrame, retypes it (``model_frame``), and the Pipeline's
ColumnTransformer then validates and splits it again before imputing, scaling and one-hot encoding: most of a
one-record model call. :func:`compile_scorer` reads, once per loaded model, the arrays the fitted steps learned
(the imputer's statistics, the missing indicator's columns, the scaler's mean and scale, the encoder's categories)
and applies them with a few numpy operations: the same floating-point operations in the same order as
scikit-learn, so the feature matrix is bit for bit the ColumnTransformer's. The classifier then gets that matrix.
For a binary ``HistGradientBoostingClassifier`` and a small batch, its trees are walked all at once with numpy
(:class:`_TreeWalk`): its own ``predict_proba`` calls each of its trees from Python, a fixed cost of several
microseconds per tree that is most of a one-record call; the leaf values are then summed in the classifier's own
order, so the scores are bit for bit its scores. Larger batches go to the classifier's own ``predict_proba``.

Measured on one record (2 shared cores, see docs/performance-latency.md): numpy on the learned arrays takes about
0.05 ms, where calling the fitted steps on numpy arrays under ``sklearn.config_context(assume_finite=True,
skip_parameter_validation=True)`` still takes 2-4 ms (each step validates its input and checks feature names).

Hand-written because no library in the lock compiles a fitted scikit-learn Pipeline into a lighter predictor,
and so the skops file stays the single source: everything here is derived from the fitted model at load time.
It recognises only what ``features.py`` and ``estimators.py`` build; a model of any other shape (a team changed
its preprocessing) raises :class:`UnrecognisedModel`, and the caller keeps the generic path. A compiled scorer is
also checked, before it is returned, on probe rows against the fitted Pipeline itself (feature matrix and tree
walk, bit for bit); a difference raises :class:`UnrecognisedModel` too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gitops_ml.adapters.sklearn_trees import groups_infrequent, hgb_trees
from gitops_ml.config import ColumnType, SchemaParams

Columns = Mapping[str, Sequence[Any]]
"""Feature name -> one raw value per row (numbers, booleans or category labels; None or NaN for missing)."""
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

TREE_WALK_MAX_ROWS = 64
"""Batches up to this many rows walk the trees with numpy; larger ones call the classifier's ``predict_proba``
(its compiled per-tree loop wins once its per-tree Python cost is spread over enough rows: for the template's
200-tree model the two were even at about 64 rows, and the walk took twice as long at 1000 rows)."""
QUICK_CALL_MAX_ROWS = 16
"""Batches up to this many rows take a fraction of a millisecond through the tree walk (about 0.1-0.5 ms measured),
less than handing the call to a thread and back: the service's batcher runs them in its event loop."""
PROBE_ROWS = 2 * TREE_WALK_MAX_ROWS + 8
"""Rows checked at compile time: enough for every category, missing values, and both tree paths."""
NUMERIC_TYPES = (ColumnType.FLOAT, ColumnType.INT, ColumnType.BOOL)


class UnrecognisedModel(ValueError):
    """The fitted model is not of a shape :func:`compile_scorer` compiles; the message says what differs."""


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


@dataclass(frozen=True)
class _NumericBlock:
    """``SimpleImputer`` (NaN -> learned statistic, optional missing indicator), then ``StandardScaler``."""

    columns: tuple[str, ...]
    fill: FloatArray
    indicator: IntArray | None
    mean: FloatArray | None
    scale: FloatArray | None

    def transform(self, columns: Columns, rows: int) -> FloatArray:
        x = np.empty((rows, len(self.columns)), dtype=np.float64)
        for j, name in enumerate(self.columns):
            x[:, j] = np.fromiter((math.nan if v is None else v for v in columns[name]), np.float64, rows)
        missing = np.isnan(x)
        if missing.any():
            at_row, at_column = np.nonzero(missing)
            x[at_row, at_column] = self.fill[at_column]
        if self.indicator is not None:
            x = np.hstack((x, missing[:, self.indicator]))
        if self.mean is not None:
            x -= self.mean
        if self.scale is not None:
            x /= self.scale
        return x


@dataclass(frozen=True)
class _CategoryBlock:
    """Constant ``SimpleImputer`` (missing -> a fill label), then ``OneHotEncoder`` (unknown labels -> all zeros)."""

    columns: tuple[str, ...]
    fills: tuple[Any, ...]
    positions: tuple[dict[Any, int], ...]
    """Per column: category -> its output column within the block."""
    width: int

    def transform(self, columns: Columns, rows: int) -> FloatArray:
        out = np.zeros((rows, self.width), dtype=np.float64)
        for name, fill, position in zip(self.columns, self.fills, self.positions, strict=True):
            at = np.fromiter(
                (position.get(fill if v is None or _is_nan(v) else v, -1) for v in columns[name]), np.intp, rows
            )
            known = at >= 0
            out[np.flatnonzero(known), at[known]] = 1.0
        return out


Block = _NumericBlock | _CategoryBlock


@dataclass(frozen=True)
class _TreeWalk:
    """All trees of a binary ``HistGradientBoostingClassifier`` (numeric splits only) as flat node arrays.

    Leaves point to themselves, so ``depth`` steps take every row down every tree at once. The leaf values are
    then added to the baseline one tree after another (``np.cumsum`` adds sequentially), as the classifier's
    ``raw_predictions[:, 0] += predictor.predict(X)`` loop does, and its own link function turns them into
    probabilities.
    """

    roots: IntArray
    feature: IntArray
    threshold: FloatArray
    missing_left: NDArray[np.bool_]
    children: IntArray
    """``children[2 * node + went_left]``: the right child at even positions, the left one at odd positions."""
    value: FloatArray
    depth: int
    baseline: float
    probabilities: Callable[[FloatArray], FloatArray]

    def __call__(self, x: FloatArray) -> FloatArray:
        rows, width = x.shape
        flat = np.ascontiguousarray(x).ravel()
        row_start = (np.arange(rows, dtype=np.intp) * width)[:, None]
        node = np.repeat(self.roots[None, :], rows, axis=0)
        any_missing = bool(np.isnan(flat).any())
        for _ in range(self.depth):
            seen = flat[row_start + self.feature[node]]
            went_left = seen <= self.threshold[node]
            if any_missing:
                went_left |= np.isnan(seen) & self.missing_left[node]
            node = self.children[2 * node + went_left]
        terms = np.empty((rows, len(self.roots) + 1), dtype=np.float64)
        terms[:, 0] = self.baseline
        terms[:, 1:] = self.value[node]
        raw = np.cumsum(terms, axis=1)[:, -1:]
        return np.asarray(self.probabilities(raw)[:, 1], dtype=np.float64)


@dataclass(frozen=True)
class FastScorer:
    """Scores of raw request columns through the compiled blocks and the fitted classifier."""

    blocks: tuple[Block, ...]
    predict_proba: Callable[[FloatArray], Any]
    tree_walk: _TreeWalk | None
    path: str
    """What serves, in words (logged once by the caller)."""

    @property
    def quick_call_max_rows(self) -> int:
        """Batches up to this many rows are sub-millisecond calls (0 when no such bound is known)."""
        return QUICK_CALL_MAX_ROWS if self.tree_walk is not None else 0

    def features(self, columns: Columns) -> FloatArray:
        """The matrix the fitted ColumnTransformer would give for these rows (bit for bit)."""
        rows = _row_count(columns, self.blocks)
        parts = [block.transform(columns, rows) for block in self.blocks]
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    def __call__(self, columns: Columns) -> FloatArray:
        """Positive-class probability of each row of ``columns``."""
        x = self.features(columns)
        if self.tree_walk is not None and len(x) <= TREE_WALK_MAX_ROWS:
            return self.tree_walk(x)
        return np.asarray(self.predict_proba(x)[:, 1], dtype=np.float64)


def _row_count(columns: Columns, blocks: tuple[Block, ...]) -> int:
    needed = [name for block in blocks for name in block.columns]
    absent = [name for name in needed if name not in columns]
    if absent:
        raise ValueError(f"columns to score lack the model's feature(s) {', '.join(absent)}")
    lengths = {len(columns[name]) for name in needed}
    if len(lengths) != 1:
        raise ValueError(f"columns to score have different lengths {sorted(lengths)}; give one value per row each")
    return lengths.pop()


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise UnrecognisedModel(what)


def _numeric_block(steps: Any, columns: tuple[str, ...]) -> _NumericBlock:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    kinds = [type(step) for _, step in steps.steps]
    _require(kinds == [SimpleImputer, StandardScaler], f"numeric steps are {[k.__name__ for k in kinds]}")
    imputer, scaler = steps[0], steps[1]
    _require(_is_nan(imputer.missing_values), "the numeric imputer does not take NaN for missing")
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    _require(imputer.keep_empty_features or not np.isnan(fill).any(), "the numeric imputer drops empty columns")
    indicator = None
    if imputer.add_indicator:
        _require(imputer.indicator_.sparse in ("auto", False), "the missing indicator is sparse")
        indicator = np.asarray(imputer.indicator_.features_, dtype=np.intp)
    return _NumericBlock(
        columns=columns,
        fill=fill,
        indicator=indicator,
        mean=None if scaler.mean_ is None or not scaler.with_mean else np.asarray(scaler.mean_, dtype=np.float64),
        scale=None if scaler.scale_ is None or not scaler.with_std else np.asarray(scaler.scale_, dtype=np.float64),
    )


def _category_block(steps: Any, columns: tuple[str, ...]) -> _CategoryBlock:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    kinds = [type(step) for _, step in steps.steps]
    _require(kinds == [SimpleImputer, OneHotEncoder], f"category steps are {[k.__name__ for k in kinds]}")
    imputer, encoder = steps[0], steps[1]
    _require(imputer.strategy == "constant" and not imputer.add_indicator, "the category imputer is not constant")
    _require(_is_nan(imputer.missing_values), "the category imputer does not take NaN for missing")
    _require(encoder.handle_unknown == "ignore", "the encoder does not ignore unknown categories")
    _require(encoder.drop_idx_ is None and not groups_infrequent(encoder), "the encoder drops or groups categories")
    _require(not encoder.sparse_output and np.dtype(encoder.dtype) == np.float64, "the encoder's output is not dense")
    positions: list[dict[Any, int]] = []
    start = 0
    for categories in encoder.categories_:
        labels = list(categories)
        _require(not any(_is_nan(label) or label is None for label in labels), "a category is NaN")
        positions.append({label: start + i for i, label in enumerate(labels)})
        start += len(labels)
    return _CategoryBlock(columns=columns, fills=tuple(imputer.statistics_), positions=tuple(positions), width=start)


def _blocks(preprocess: Any, schema: SchemaParams) -> tuple[Block, ...]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    _require(type(preprocess) is ColumnTransformer, f"the first step is a {type(preprocess).__name__}")
    _require(not preprocess.sparse_output_, "the ColumnTransformer's output is sparse")
    blocks: list[Block] = []
    for name, steps, selected in preprocess.transformers_:
        if isinstance(steps, str) and steps == "drop":
            continue
        _require(
            isinstance(selected, list) and all(isinstance(c, str) for c in selected),
            f"transformer {name!r} does not select columns by name",
        )
        if not selected:
            continue  # an empty selection adds no output columns
        _require(type(steps) is Pipeline, f"transformer {name!r} is a {type(steps).__name__}")
        types = {schema.columns[c].type if c in schema.columns else None for c in selected}
        if types <= set(NUMERIC_TYPES):
            blocks.append(_numeric_block(steps, tuple(selected)))
        elif types == {ColumnType.CATEGORY}:
            blocks.append(_category_block(steps, tuple(selected)))
        else:
            raise UnrecognisedModel(f"transformer {name!r} mixes column types or names columns outside the schema")
    _require(bool(blocks), "the ColumnTransformer outputs nothing")
    return tuple(blocks)


def _tree_walk(classifier: Any) -> _TreeWalk | None:
    """The compiled trees of a binary HistGradientBoostingClassifier without categorical splits, else None."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if type(classifier) is not HistGradientBoostingClassifier:
        return None
    fitted = hgb_trees(classifier)  # None when scikit-learn keeps its trees elsewhere: the classifier's own path
    if fitted is None:
        return None
    trees = fitted.nodes
    nodes = np.concatenate(trees)
    if nodes["is_categorical"].any():
        return None
    starts = np.cumsum([0, *(len(tree) for tree in trees)])[:-1].astype(np.intp)
    offset = np.repeat(starts, [len(tree) for tree in trees])
    leaf = nodes["is_leaf"].astype(bool)
    index = np.arange(len(nodes), dtype=np.intp)
    left = np.where(leaf, index, nodes["left"].astype(np.intp) + offset)
    right = np.where(leaf, index, nodes["right"].astype(np.intp) + offset)
    children = np.empty(2 * len(nodes), dtype=np.intp)
    children[0::2], children[1::2] = right, left
    return _TreeWalk(
        roots=starts,
        feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp),
        threshold=np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        children=children,
        value=nodes["value"].astype(np.float64),
        depth=int(nodes["depth"].max()),
        baseline=fitted.baseline,
        probabilities=fitted.predict_proba,
    )


def probe_columns(scorer: FastScorer, rows: int = PROBE_ROWS) -> dict[str, list[Any]]:
    """Rows that exercise every learned value: each category, an unknown label, missing values, spread numbers."""
    columns: dict[str, list[Any]] = {}
    for block in scorer.blocks:
        if isinstance(block, _NumericBlock):
            centre = block.mean if block.mean is not None else block.fill
            spread = block.scale if block.scale is not None else np.ones_like(centre)
            for j, name in enumerate(block.columns):
                cycle: list[Any] = [
                    None,
                    float(block.fill[j]),
                    *(float(centre[j] + k * spread[j]) for k in (-2, -0.5, 0, 1, 3)),
                ]
                columns[name] = [cycle[i % len(cycle)] for i in range(rows)]
        else:
            for name, position in zip(block.columns, block.positions, strict=True):
                labels: list[Any] = [None, "\x00unknown-category", *position]
                columns[name] = [labels[i % len(labels)] for i in range(rows)]
    return columns


def _check(scorer: FastScorer, model: Any, schema: SchemaParams) -> None:
    """Refuse a scorer whose features (or tree walk) differ from the fitted Pipeline's on probe rows."""
    import pandas as pd

    from gitops_ml.pipeline.features import model_frame

    probe = probe_columns(scorer)
    frame = pd.DataFrame(probe)
    for name in schema.feature_names:
        if name not in frame:  # a feature the ColumnTransformer drops: any value does
            frame[name] = None
    expected = model[0].transform(model_frame(frame, schema))
    got = scorer.features(probe)
    _require(
        got.shape == expected.shape and np.array_equal(got, expected, equal_nan=True),
        "the compiled features differ from the ColumnTransformer's on probe rows",
    )
    if scorer.tree_walk is not None:
        _require(
            np.array_equal(scorer.tree_walk(got), np.asarray(model[-1].predict_proba(got)[:, 1])),
            "the compiled trees differ from the classifier's predict_proba on probe rows",
        )


def compile_scorer(model: Any, schema: SchemaParams) -> FastScorer:
    """The serving-time scorer of a fitted ``Pipeline([("preprocess", ColumnTransformer), ("estimator", classifier)])``.

    Raises :class:`UnrecognisedModel` (saying why) for a model of another shape, or when the compiled path
    does not reproduce the Pipeline on probe rows.
    """
    from sklearn.pipeline import Pipeline

    _require(type(model) is Pipeline and len(model.steps) == 2, f"the model is not a 2-step Pipeline: {model!r:.200}")
    classifier = model[-1]
    _require(hasattr(classifier, "predict_proba"), f"the classifier {type(classifier).__name__} has no predict_proba")
    _require(len(getattr(classifier, "classes_", ())) == 2, "the classifier is not binary")
    _require(not hasattr(classifier, "feature_names_in_"), "the classifier was fitted on a DataFrame")
    blocks = _blocks(model[0], schema)
    walk = _tree_walk(classifier)
    name = type(classifier).__name__
    path = "numpy features from the fitted ColumnTransformer's arrays, then " + (
        f"a numpy walk of the {len(walk.roots)} trees for batches up to {TREE_WALK_MAX_ROWS} rows "
        f"({name}.predict_proba above)"
        if walk is not None
        else f"{name}.predict_proba"
    )
    scorer = FastScorer(blocks=blocks, predict_proba=classifier.predict_proba, tree_walk=walk, path=path)
    _check(scorer, model, schema)
    return scorer
