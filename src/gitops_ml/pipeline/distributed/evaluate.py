"""Stage ``evaluate`` on a Dask cluster: the test parts scored in parallel, the outputs those of the in-memory stage.

The model goes to every worker once; each scores its parts of ``artifacts/test.parquet`` with the stage's own
:func:`~gitops_ml.pipeline.evaluate.predict_scores` and sends back the targets and predictions (a few bytes a
row). This process then computes the metrics, intervals, plot tables and predictions file with the in-memory
stage's own :func:`~gitops_ml.pipeline.evaluate.write_evaluation`; feature importance samples from a seeded sample
of the test rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.pieces import Piece, pieces_of, read_piece
from gitops_ml.compute.sample import draw_sample
from gitops_ml.config import EvaluateParams, SchemaParams
from gitops_ml.errors import DataContractError
from gitops_ml.model_metrics import Outcome
from gitops_ml.pipeline.evaluate import DEFAULT_LABELS, IMPORTANCE_SAMPLE_ROWS, predict_scores, write_evaluation


def score_piece(piece: Piece, model: Pipeline, schema: SchemaParams) -> tuple[np.ndarray, np.ndarray]:
    """(targets, predictions) of one test piece."""
    frame = read_piece(piece)
    return frame[schema.target].to_numpy(), predict_scores(model, frame, schema)


def run_evaluate(
    runner: Runner,
    model: Pipeline,
    test_path: Path,
    schema: SchemaParams,
    params: EvaluateParams,
    seed: int,
    partition_mb: float,
    out_dir: Path,
    labels: tuple[str, str] = DEFAULT_LABELS,
) -> dict[str, Any]:
    """Score the test parts on the cluster and write every evaluate output under ``out_dir``; return the metrics."""
    if not test_path.exists():
        raise DataContractError(f"{test_path} does not exist: run the split stage first (`make repro`)")
    pieces = [p for p in pieces_of(test_path, partition_mb) if p.rows]
    shared = runner.client.scatter(model, broadcast=True) if runner.client is not None else model
    parts = runner.map(score_piece, pieces, "evaluate", Piece.describe, model=shared, schema=schema)
    y = np.concatenate([part[0] for part in parts])
    predicted = np.concatenate([part[1] for part in parts])
    outcome = Outcome.of(schema.task, y, predicted, params.threshold)
    sample = draw_sample(runner, pieces, IMPORTANCE_SAMPLE_ROWS, seed, [*schema.feature_names, schema.target])
    return write_evaluation(model, outcome, sample, schema, params, seed, out_dir, labels)
