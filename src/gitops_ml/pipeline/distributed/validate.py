"""Stage ``validate`` on a Dask cluster: the contract checked partition by partition, the data never in one place.

Each worker reads a piece of the raw data (``data.path`` and its windows), checks and types its rows with the
in-memory stage's own :func:`~gitops_ml.pipeline.validate.check_rows`, and writes it as one part of
``artifacts/validated.parquet/``; it sends back only counts and the target column. This process then checks the
table as a whole (rows, class balance) with the stage's own check and writes ``reports/data_summary.json`` with the
same facts the in-memory stage writes. A piece that breaks the contract stops the stage with the stage's message,
the piece named in front; nothing is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gitops_ml.compute.cluster import Runner
from gitops_ml.compute.pieces import Piece, atomic_dirs, files_of, pieces_of, read_piece, write_part
from gitops_ml.config import SchemaParams
from gitops_ml.errors import DataContractError
from gitops_ml.io import write_json
from gitops_ml.pipeline.validate import _check_table, check_rows, dataset_files, target_facts
from gitops_ml.vcs import file_md5


@dataclass(frozen=True)
class PartFacts:
    """What a worker sends back about the part it validated and wrote."""

    rows: int
    unlabelled: int
    """Rows of the piece without a target, left out (as the in-memory stage counts them)."""
    missing: dict[str, int]
    target: np.ndarray
    types: dict[str, str]
    """Each column's parquet type as written (an id column could differ between parts)."""


def validate_piece(item: tuple[int, Piece], schema: SchemaParams, out_dir: Path) -> PartFacts:
    """Check and type one piece (:func:`check_rows`), write it as part ``index`` of ``out_dir``; return its facts."""
    import pyarrow.parquet as pq

    index, piece = item
    raw = read_piece(piece)
    typed = check_rows(raw, schema)
    path = write_part(typed, out_dir, index)
    written = pq.read_schema(path)
    return PartFacts(
        rows=len(typed),
        unlabelled=len(raw) - len(typed),
        missing={name: int(typed[name].isna().sum()) for name in schema.columns},
        target=typed[schema.target].to_numpy(),
        types={field.name: str(field.type) for field in written},
    )


def _check_types(facts: list[PartFacts], pieces: list[Piece]) -> None:
    """Refuse parts whose columns were written with different types (e.g. an id of numbers here, text there)."""
    first = facts[0].types
    for fact, piece in zip(facts[1:], pieces[1:], strict=True):
        for name, kind in fact.types.items():
            if name in first and first[name] != kind and fact.rows:
                raise DataContractError(
                    f"column {name} is {first[name]} in {pieces[0].describe()} but {kind} in {piece.describe()}: "
                    "give it one type in every file of the data"
                )


def data_digest(files: list[Path]) -> str:
    """The md5 the summary records: the file's own for one file; for several, of their names and md5s."""
    if len(files) == 1:
        return file_md5(files[0])
    listing = "".join(f"{path.name} {file_md5(path)}\n" for path in files)
    return hashlib.md5(listing.encode(), usedforsecurity=False).hexdigest()


def summary_of(facts: list[PartFacts], target: pd.Series, schema: SchemaParams, raw_path: Path) -> dict[str, Any]:
    """The facts :func:`~gitops_ml.pipeline.validate.data_summary` records, from the parts' counts (the same keys and
    values for the same data: tests/pipeline/distributed/test_validate.py compares them)."""
    given = dataset_files(raw_path)
    files = [file for path in given for file in files_of(path)]
    windows = {"windows": [str(path) for path in given[1:]]} if len(given) > 1 else {}
    return {
        **windows,
        "path": str(raw_path),
        "md5": data_digest(files),
        "task": schema.task.value,
        "rows": len(target),
        "unlabelled_rows": sum(f.unlabelled for f in facts),
        **target_facts(target.to_frame(), schema),
        "columns": {name: spec.type.value for name, spec in schema.columns.items()},
        "missing": {name: sum(f.missing[name] for f in facts) for name in schema.columns},
    }


def run_validate(
    runner: Runner, raw_path: Path, schema: SchemaParams, partition_mb: float, out_path: Path, summary_path: Path
) -> dict[str, Any]:
    """Validate ``raw_path`` and its windows on the cluster; write the typed parts and the summary (both or neither)."""
    if not raw_path.exists():
        raise DataContractError(
            f"{raw_path} does not exist: run `make data` (pulls it from the DVC remote or generates the sample)"
        )
    try:
        pieces = pieces_of(dataset_files(raw_path), partition_mb)
    except Exception as exc:  # an unreadable parquet footer, a file of another kind
        raise DataContractError(f"{raw_path} (or a window beside it) cannot be read: {exc}") from None
    with atomic_dirs(out_path) as (out_dir,):
        facts = runner.map(
            validate_piece,
            list(enumerate(pieces)),
            "validate",
            lambda item: item[1].describe(),
            schema=schema,
            out_dir=out_dir,
        )
        _check_types(facts, pieces)
        target = pd.Series(np.concatenate([f.target for f in facts]), name=schema.target)
        _check_table(target.to_frame(), schema)
        summary = summary_of(facts, target, schema, raw_path)
        write_json(summary_path, summary)
    return summary
