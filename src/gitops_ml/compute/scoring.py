"""Batch scoring (``gitops-ml score``, ``make score IN=... OUT=...``): a large file or directory, part by part.

The input (a CSV or parquet file, or a directory of parquet files, with the schema's feature and id columns) is cut
into pieces (:mod:`gitops_ml.compute.pieces`); each is scored on its own, on the Dask cluster when
``compute.engine`` is ``dask``, else here one after the other, and written as one part of the output directory.
The output appears whole or not at all (parts made in a temporary directory beside it, moved in at the end),
with ``_scoring.json`` saying which model made it. Each row keeps its id columns and gets, by task:

- binary: ``score`` (the positive class's probability) and ``label`` (the class the threshold gives);
- multiclass: ``label`` (the most probable class) and ``probability_<class>`` for each class;
- regression: ``value``.

The model is the released one (the champion: production's release, else the newest ``model-vN``), the working
tree's (``current``), or a named release; a release is scored with its own schema and threshold.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from gitops_ml import paths
from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.pieces import Piece, atomic_dirs, pieces_of, read_piece, write_part
from gitops_ml.config import ColumnType, Params, SchemaParams, parse_schema
from gitops_ml.errors import ConfigError, DataContractError
from gitops_ml.io import write_json
from gitops_ml.pipeline.interface import score_frame
from gitops_ml.tasks import Task

AUTO, CURRENT, RELEASED = "auto", "current", "released"
MANIFEST = "_scoring.json"
"""Written beside the parts: which model scored what (pyarrow and pandas skip names starting with ``_``)."""


@dataclass(frozen=True)
class ScoringModel:
    """The model that scores, with the schema and threshold it was made with."""

    path: Path
    schema: SchemaParams
    threshold: float
    label: str
    """How messages and the manifest name it: ``model-v3`` or ``models/model.skops (working tree)``."""


def prediction_columns(predicted: np.ndarray, schema: SchemaParams, threshold: float) -> dict[str, Any]:
    """The output's prediction columns for the task (see the module docstring)."""
    if schema.task is Task.REGRESSION:
        return {"value": predicted}
    classes = np.asarray(schema.class_labels, dtype=object)
    if schema.task is Task.BINARY:
        return {"score": predicted, "label": classes[(predicted >= threshold).astype(int)]}
    return {"label": classes[predicted.argmax(axis=1)]} | {
        f"probability_{name}": predicted[:, i] for i, name in enumerate(schema.class_labels)
    }


def _unreadable_column(frame: pd.DataFrame, schema: SchemaParams) -> str | None:
    """Why the frame's numbers cannot be read, naming the first column with a value that is not one."""
    for name in schema.names_of(ColumnType.FLOAT, ColumnType.INT, ColumnType.BOOL):
        column = frame[name]
        bad = column.notna() & pd.to_numeric(column, errors="coerce").isna()
        if bad.any():
            examples = ", ".join(repr(v) for v in column[bad].drop_duplicates().head(3))
            return f"column {name}: {int(bad.sum())} value(s) are not numbers (e.g. {examples})"
    return None


def score_piece(item: tuple[int, Piece], model: Any, schema: SchemaParams, threshold: float, out_dir: Path) -> int:
    """Score one piece and write it as part ``index`` of ``out_dir`` (ids and predictions); return its rows."""
    index, piece = item
    frame = read_piece(piece)
    missing = [c for c in [*schema.ids, *schema.columns] if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"lacks column(s) {', '.join(missing)}: the model needs the schema's feature columns (schema.columns) "
            "and keeps its id columns (schema.ids)"
        )
    try:
        predicted = score_frame(model, frame, schema)
    except (ValueError, TypeError) as exc:
        raise DataContractError(_unreadable_column(frame, schema) or f"cannot be scored: {exc}") from None
    out = frame[schema.ids].reset_index(drop=True)
    for name, values in prediction_columns(predicted, schema, threshold).items():
        out[name] = values
    write_part(out, out_dir, index)
    return len(out)


def run_score(runner: Runner, chosen: ScoringModel, source: Path, out: Path, partition_mb: float) -> tuple[int, int]:
    """Score every piece of ``source`` with ``chosen``; write the directory ``out`` whole; return (rows, parts)."""
    from gitops_ml.model_io import load_model

    if not source.exists():
        raise DataContractError(f"--in {source}: no such file or directory")
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise DataContractError(f"--out {out} would replace or sit inside the input {source}: choose another place")
    try:
        pieces = pieces_of(source, partition_mb)
    except Exception as exc:  # not a CSV or parquet file, an unreadable parquet footer
        raise DataContractError(f"--in {source} cannot be read: {exc}") from None
    if not pieces:
        raise DataContractError(f"--in {source}: a directory with no parquet file")
    model = load_model(chosen.path)
    shared = runner.client.scatter(model, broadcast=True) if runner.client is not None else model
    with atomic_dirs(out) as (tmp,):
        rows = runner.map(
            score_piece,
            list(enumerate(pieces)),
            "score",
            lambda item: item[1].describe(),
            model=shared,
            schema=chosen.schema,
            threshold=chosen.threshold,
            out_dir=tmp,
        )
        manifest = {"model": chosen.label, "source": str(source), "rows": sum(rows), "parts": len(rows)}
        write_json(tmp / MANIFEST, manifest | {"task": chosen.schema.task.value})
    return sum(rows), len(rows)


def _release(repo: Path, tag: str, folder: Path, say: Callable[[str], None]) -> ScoringModel:
    from gitops_ml.gitops.champion import materialise
    from gitops_ml.vcs import file_at

    text = file_at(repo, tag, "params.yaml")
    if text is None:
        raise ConfigError(f"{tag} has no params.yaml: it cannot be a release of this project")
    raw = yaml.safe_load(text)
    schema = parse_schema(raw, f"params.yaml of {tag}")
    evaluate = raw.get("evaluate") if isinstance(raw.get("evaluate"), dict) else {}
    champion = materialise(repo, tag, folder / "model.skops", say)
    return ScoringModel(champion.path, schema, float(evaluate.get("threshold", 0.5)), tag)


@contextlib.contextmanager
def scoring_model(which: str, params: Params, repo: Path, say: Callable[[str], None]) -> Iterator[ScoringModel]:
    """The model ``--model`` names, on disk for the length of the block.

    ``auto``: the released model when there is one, else the working tree's; ``released``: the champion;
    ``current``: the working tree's ``models/model.skops`` with params.yaml's schema; ``model-vN``: that release.
    """
    from gitops_ml.gitops.champion import champion_tag, release_tags, tag_number

    current = ScoringModel(
        repo / paths.MODEL, params.schema, params.evaluate.threshold, f"{paths.MODEL} (working tree)"
    )
    if which == CURRENT:
        yield current
        return
    if which in (AUTO, RELEASED):
        tag = champion_tag(repo) if (repo / ".git").exists() else None
        if tag is None:
            if which == RELEASED:
                raise ConfigError("--model released: nothing is released yet (no model-vN tag); use --model current")
            say("score: nothing is released yet (no model-vN tag): scoring with the working tree's model")
            yield current
            return
    elif tag_number(which) is not None:
        if which not in release_tags(repo):
            raise ConfigError(f"--model {which}: no such release here (`git fetch --tags` if it is on the remote)")
        tag = which
    else:
        raise ConfigError(f"--model {which!r}: give auto, current, released or a release model-vN")
    with tempfile.TemporaryDirectory(prefix="gitops-ml-score-") as folder:
        yield _release(repo, tag, Path(folder), say)
