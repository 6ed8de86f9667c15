"""Data as pieces: the partitions the Dask engine computes on, each read on its own, and outputs written whole.

A piece is a byte range of a CSV file (cut at line ends, the header line put in front) or consecutive row groups
of a parquet file (a row group is never cut). :func:`pieces_of` cuts a file, a directory of parquet files, or a
list of them, into pieces of about ``compute.partition_mb`` megabytes; :func:`read_piece` reads one, as the
in-memory stages read a whole file (pyarrow, the same column types).

Outputs are directories of parts ``part-00000.parquet``, ``part-00001.parquet``... in the order of the input:
``pandas.read_parquet`` reads such a directory as one frame, in that order. :func:`atomic_dirs` makes them in
temporary directories beside their place and moves them in only when everything succeeded, so a failed run
leaves the previous outputs (or nothing) and never a half-written one.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

MB = 2**20
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
PART_NAME = "part-{:05d}.parquet"

_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass(frozen=True)
class Piece:
    """One partition of the data: where it is and how to read it alone."""

    path: Path
    """The file, absolute (workers may run elsewhere on the same filesystem)."""
    kind: Literal["csv", "parquet"]
    row_groups: tuple[int, ...] = ()
    """Parquet: the row groups of ``path`` in this piece."""
    rows: int | None = None
    """Parquet: the rows in this piece (from the file's metadata); CSV: unknown until read."""
    offset: int = 0
    """CSV: where the byte range starts (it begins after the first line end at or after it; at 0, at 0)."""
    length: int = 0
    """CSV: the range's length (it ends at the first line end at or after ``offset + length``)."""
    header: bytes = b""
    """CSV: the file's header line, put in front of a range that does not start the file."""

    def describe(self) -> str:
        """The piece in words for messages: the file (relative to the working directory) and the part of it."""
        try:
            shown = str(self.path.relative_to(Path.cwd()))
        except ValueError:
            shown = str(self.path)
        if self.kind == "csv":
            return f"{shown} (bytes {self.offset}-{self.offset + self.length})"
        groups = self.row_groups
        part = f"row group {groups[0]}" if len(groups) == 1 else f"row groups {groups[0]}-{groups[-1]}"
        return f"{shown} ({part})"


def files_of(path: Path) -> list[Path]:
    """``path`` if it is a file, else the parquet files directly in the directory ``path``, by name.

    Names starting with ``.`` or ``_`` are skipped, as pyarrow skips them (temporary and metadata files).
    """
    if not path.is_dir():
        return [path]
    return sorted(
        p for p in path.iterdir() if p.suffix.lower() in PARQUET_SUFFIXES and not p.name.startswith((".", "_"))
    )


def _parquet_pieces(path: Path, partition_bytes: int) -> list[Piece]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    pieces: list[Piece] = []
    groups: list[int] = []
    size = rows = 0
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        if groups and size + group.total_byte_size > partition_bytes:
            pieces.append(Piece(path, "parquet", tuple(groups), rows))
            groups, size, rows = [], 0, 0
        groups.append(index)
        size += group.total_byte_size
        rows += group.num_rows
    if groups or not pieces:
        pieces.append(Piece(path, "parquet", tuple(groups), rows))
    return pieces


def _csv_pieces(path: Path, partition_bytes: int) -> list[Piece]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.readline()
    return [
        Piece(path, "csv", offset=offset, length=partition_bytes, header=header)
        for offset in range(0, max(size, 1), partition_bytes)
    ]


def pieces_of(paths: Path | Sequence[Path], partition_mb: float) -> list[Piece]:
    """The pieces of ``paths`` (files, or directories of parquet files), in order, each about ``partition_mb``.

    A CSV is cut into byte ranges at line ends (a quoted value holding a line break would be cut too: keep such
    data in parquet); parquet row groups are grouped, in order, up to that size (uncompressed).
    """
    partition_bytes = max(int(partition_mb * MB), 1)
    pieces: list[Piece] = []
    for given in [paths] if isinstance(paths, Path) else paths:
        for path in files_of(given.resolve()):
            suffix = path.suffix.lower()
            if suffix in PARQUET_SUFFIXES:
                pieces += _parquet_pieces(path, partition_bytes)
            elif suffix in CSV_SUFFIXES:
                pieces += _csv_pieces(path, partition_bytes)
            else:
                raise ValueError(f"{path}: not a CSV or parquet file (by its suffix)")
    return pieces


def read_piece(piece: Piece, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read one piece (only ``columns``, when given), typed as ``pandas.read_parquet``/``read_csv`` type a file."""
    if piece.kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.ParquetFile(piece.path).read_row_groups(list(piece.row_groups), columns=columns)
        frame: pd.DataFrame = table.to_pandas()
        return frame
    from fsspec.utils import read_block

    with piece.path.open("rb") as handle:
        block = read_block(handle, piece.offset, piece.length, delimiter=b"\n")
    if piece.offset > 0:
        block = piece.header + block
    return pd.read_csv(io.BytesIO(block), engine="pyarrow", usecols=list(columns) if columns else None)


def part_path(directory: Path, index: int) -> Path:
    """The ``index``-th part of an output directory."""
    return directory / PART_NAME.format(index)


def write_part(frame: pd.DataFrame, directory: Path, index: int) -> Path:
    """Write ``frame`` as the ``index``-th part of the output directory ``directory``; return its path."""
    path = part_path(directory, index)
    frame.to_parquet(path, index=False)
    return path


def read_head(path: Path, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of a parquet file or directory, read without loading the rest."""
    import pyarrow.parquet as pq

    frames = []
    for file in files_of(path):
        handle = pq.ParquetFile(file)
        for batch in handle.iter_batches(batch_size=rows):
            frames.append(batch.to_pandas())
            rows -= len(frames[-1])
            break
        if rows <= 0:
            break
    head: pd.DataFrame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return head


def _replace(tmp: Path, path: Path) -> None:
    """Move the finished directory ``tmp`` to ``path``, replacing what was there (a file or a directory)."""
    if path.is_dir():
        old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
        return
    if path.exists():
        path.unlink()
    tmp.rename(path)


@contextlib.contextmanager
def atomic_dirs(*paths: Path) -> Iterator[list[Path]]:
    """Yield one empty temporary directory beside each of ``paths``; on success move each into place (replacing a
    file or directory there), on error delete them all: the outputs appear together, whole, or not at all."""
    tmps = []
    paths = tuple(path.resolve() for path in paths)  # absolute: the workers may run in another directory
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmps.append(Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)))
        yield tmps
        for tmp, path in zip(tmps, paths, strict=True):
            tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes 0700; outputs get the usual permissions
            _replace(tmp, path)
    finally:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)
