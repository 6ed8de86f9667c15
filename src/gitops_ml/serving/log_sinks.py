"""Where the prediction log's lines go: rotating local JSON Lines files, or object storage through fsspec.

Files are named ``predictions-<UTC yyyymmddTHHMMSS>-<pid>.jsonl`` (the format in docs/prediction-log.md), with a
``-<n>`` suffix when a name is taken (two rotations within one second). The file being written is flushed after
every write, so lines are visible at once; its last line may be incomplete while it is written. A file is closed
once it holds ``max_bytes`` or has been open ``max_seconds``; a closed file may then be gzip-compressed
(``.jsonl.gz``, written under a hidden name and renamed, so it appears complete), and handed to ``on_closed``.

:class:`FsspecSink` writes the same files into a local spool directory and uploads each closed one to an fsspec
URL (``s3://``, ``gs://``, ``file://``, ``memory://``...); a failed upload stays in the spool and is retried at
the next close, so records are not lost to a short outage. Why hand-written rotation? :mod:`logging.handlers`
rotates by renaming to ``.1``, ``.2``... (a reader sees a file change name under it), cannot compress atomically
and has no upload; the few dozen lines here follow the naming contract the drift check reads.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

logger = logging.getLogger("gitops_ml.serving.prediction_log")

FILE_PREFIX = "predictions-"
SUFFIX = ".jsonl"
GZ_SUFFIX = ".jsonl.gz"


class Sink(Protocol):
    """Something the prediction log's writer thread hands lines to (used from that one thread only)."""

    def write(self, text: str) -> None:
        """Append ``text`` (whole lines); raise on failure (the writer counts it)."""

    def seconds_until_due(self) -> float | None:
        """Seconds until the open file must be closed by age, or ``None`` when no file is open."""

    def rotate_if_due(self) -> None:
        """Close the open file if it has been open ``max_seconds``."""

    def close(self) -> None:
        """Close the open file (and finish what closing a file involves: compressing, uploading)."""


def is_url(location: str) -> bool:
    """True for an fsspec URL (``scheme://...``), false for a local directory."""
    return "://" in location


class RotatingFileSink:
    """JSON Lines files in ``directory``, closed by size or age, optionally gzip-compressed once closed."""

    def __init__(
        self,
        directory: Path | str,
        max_bytes: int,
        max_seconds: float,
        compress: bool = False,
        on_closed: Callable[[Path], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``on_closed(path)`` is called with each closed (and compressed) file; ``clock`` is for tests."""
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.compress = compress
        self._on_closed = on_closed
        self._clock = clock
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._size = 0

    def write(self, text: str) -> None:
        """Append ``text`` to the open file (opening one if needed), flush it, close it when it is full."""
        data = text.encode("utf-8")
        file = self._file or self._open()
        try:
            file.write(data)
            file.flush()
        except BaseException:
            self._abandon()
            raise
        self._size += len(data)
        if self._size >= self.max_bytes:
            self.close()

    def seconds_until_due(self) -> float | None:
        """Seconds until the open file reaches ``max_seconds``, or ``None`` when none is open."""
        if self._file is None:
            return None
        return max(0.0, self._opened_at + self.max_seconds - self._clock())

    def rotate_if_due(self) -> None:
        """Close the open file if it is old enough."""
        due = self.seconds_until_due()
        if due is not None and due <= 0:
            self.close()

    def close(self) -> None:
        """Close the open file, compress it if asked, and hand it to ``on_closed``."""
        if self._file is None or self._path is None:
            return
        file, path = self._file, self._path
        self._file, self._path = None, None
        file.close()
        if self.compress:
            path = _gzip(path)
        if self._on_closed is not None:
            self._on_closed(path)

    def _open(self) -> IO[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = self._clock()
        stem = f"{FILE_PREFIX}{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
        for attempt in range(1000):
            path = self.directory / f"{stem}{f'-{attempt}' if attempt else ''}{SUFFIX}"
            taken = path.with_name(path.name + ".gz").exists()  # a compressed file of the same name
            if taken:
                continue
            try:
                self._file = path.open("xb")  # exclusive: never append to another process's file
            except FileExistsError:
                continue
            self._path, self._opened_at, self._size = path, now, 0
            return self._file
        raise FileExistsError(f"{self.directory}: no free file name for {stem}{SUFFIX}")

    def _abandon(self) -> None:
        """Forget a file that failed to write (the next write opens a new one); keep what it holds."""
        file, self._file, self._path = self._file, None, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()


def _gzip(path: Path) -> Path:
    """``path`` gzip-compressed into ``<path>.gz`` (written under a hidden name, then renamed); the plain file goes."""
    target = path.with_name(path.name + ".gz")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=path.parent)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", filename=path.name) as out,
            path.open("rb") as source,
        ):
            shutil.copyfileobj(source, out)
        Path(tmp_name).chmod(path.stat().st_mode & 0o777)
        Path(tmp_name).replace(target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    path.unlink()
    return target


class FsspecSink:
    """Rotating files in a local spool directory, each uploaded to ``url`` (any fsspec URL) once closed."""

    def __init__(
        self,
        url: str,
        max_bytes: int,
        max_seconds: float,
        compress: bool = False,
        spool: Path | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``spool`` defaults to a new temporary directory of this process."""
        self.url = url.rstrip("/")
        self._own_spool = spool is None
        self.spool = Path(spool) if spool else Path(tempfile.mkdtemp(prefix="gitops-ml-prediction-log-"))
        self._files = RotatingFileSink(self.spool, max_bytes, max_seconds, compress, self._closed, clock)
        self._pending: list[Path] = []

    def write(self, text: str) -> None:
        """Append ``text`` to the spooled file."""
        self._files.write(text)

    def seconds_until_due(self) -> float | None:
        """See :meth:`RotatingFileSink.seconds_until_due`."""
        return self._files.seconds_until_due()

    def rotate_if_due(self) -> None:
        """Close (and upload) the spooled file if it is old enough."""
        self._files.rotate_if_due()

    def close(self) -> None:
        """Close the spooled file and upload every file not uploaded yet (then remove a spool made here)."""
        self._files.close()
        self._upload_pending()
        if self._own_spool:
            with contextlib.suppress(OSError):  # not empty: a file that failed to write stays for inspection
                self.spool.rmdir()

    def _closed(self, path: Path) -> None:
        self._pending.append(path)
        self._upload_pending()

    def _upload_pending(self) -> None:
        """Upload spooled files oldest first; stop at the first failure (raised) and keep the rest for later."""
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        if not self._pending:
            return
        fs, root = url_to_fs(self.url)
        local = isinstance(fs, LocalFileSystem)
        if local:  # object stores have no directories to create
            fs.makedirs(root, exist_ok=True)
        while self._pending:
            path = self._pending[0]
            target = f"{root.rstrip('/')}/{path.name}"
            if local:  # a local copy is not atomic: copy beside the target, then rename
                partial = f"{root.rstrip('/')}/.{path.name}.part"
                fs.put_file(str(path), partial)
                fs.mv(partial, target)
            else:  # object stores publish an object only once it is complete
                fs.put_file(str(path), target)
            path.unlink()
            self._pending.pop(0)
