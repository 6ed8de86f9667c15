"""Prediction log files: named as the contract says, rotated by size and age, compressed whole, uploaded by fsspec."""

from __future__ import annotations

import gzip
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from gitops_ml.serving.log_sinks import FsspecSink, RotatingFileSink, is_url

NAME = re.compile(r"^predictions-(\d{8}T\d{6})-(\d+)(?:-(\d+))?\.jsonl(\.gz)?$")
T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines(count: int, start: int = 0) -> list[str]:
    return [f'{{"n": {i}, "pad": "{"x" * 40}"}}\n' for i in range(start, start + count)]


def read(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read()


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir(), key=lambda p: p.name)


def test_files_are_named_by_utc_time_and_pid_and_rotate_by_size(tmp_path: Path) -> None:
    clock = Clock()
    sink = RotatingFileSink(tmp_path / "log", max_bytes=200, max_seconds=3600, clock=clock)
    written = lines(10)
    for line in written:
        sink.write(line)
        clock.now += 1
    sink.close()
    found = files(tmp_path / "log")
    assert len(found) > 1
    for path in found:
        match = NAME.match(path.name)
        assert match, path.name
        assert match.group(2) == str(os.getpid())
    assert NAME.match(found[0].name).group(1) == "20250615T150640"  # type: ignore[union-attr]
    assert "".join(read(p) for p in found) == "".join(written)
    sizes = [p.stat().st_size for p in found]
    line_size = len(written[0])
    assert all(200 <= size < 200 + line_size for size in sizes[:-1])  # closed at the first write past the limit


def test_a_name_taken_within_the_same_second_gets_a_suffix(tmp_path: Path) -> None:
    sink = RotatingFileSink(tmp_path, max_bytes=1, max_seconds=3600, clock=Clock())
    for line in lines(3):
        sink.write(line)  # each write fills a file; the clock never moves
    stems = [p.name for p in files(tmp_path)]
    pid = os.getpid()
    assert stems == [
        f"predictions-20250615T150640-{pid}-1.jsonl",
        f"predictions-20250615T150640-{pid}-2.jsonl",
        f"predictions-20250615T150640-{pid}.jsonl",
    ]


def test_a_file_open_for_max_seconds_is_closed(tmp_path: Path) -> None:
    clock = Clock()
    closed: list[Path] = []
    sink = RotatingFileSink(tmp_path, max_bytes=10**6, max_seconds=60, on_closed=closed.append, clock=clock)
    assert sink.seconds_until_due() is None
    sink.write(lines(1)[0])
    clock.now += 45
    assert sink.seconds_until_due() == 15
    sink.rotate_if_due()
    assert closed == []
    clock.now += 15
    sink.rotate_if_due()
    assert closed == files(tmp_path)
    assert sink.seconds_until_due() is None
    sink.write(lines(1, start=1)[0])
    assert len(files(tmp_path)) == 2


def test_closed_files_are_compressed_whole(tmp_path: Path) -> None:
    clock = Clock()
    closed: list[Path] = []
    sink = RotatingFileSink(
        tmp_path, max_bytes=150, max_seconds=3600, compress=True, on_closed=closed.append, clock=clock
    )
    written = lines(7)
    for line in written:
        sink.write(line)
        clock.now += 1
    sink.close()
    found = files(tmp_path)
    assert found == sorted(closed)
    assert all(p.name.endswith(".jsonl.gz") for p in found)  # no plain copy and no hidden temporary left
    assert "".join(read(p) for p in sorted(found, key=lambda p: p.name)) == "".join(written)


def test_a_failed_write_raises_and_the_next_write_starts_a_new_file(tmp_path: Path) -> None:
    blocked = tmp_path / "log"
    blocked.write_text("a file where the directory should be")
    sink = RotatingFileSink(blocked, max_bytes=10**6, max_seconds=3600)
    with pytest.raises((FileExistsError, NotADirectoryError)):
        sink.write(lines(1)[0])
    blocked.unlink()
    sink.write(lines(1)[0])
    sink.close()
    assert [read(p) for p in files(blocked)] == lines(1)


def test_is_url() -> None:
    assert is_url("s3://bucket/predictions") and is_url("file:///var/log/p") and is_url("memory://p")
    assert not is_url("logs/predictions") and not is_url("/var/log/predictions")


@pytest.fixture
def memory_url() -> Iterator[str]:
    root = f"/predlog-{uuid.uuid4().hex}"
    yield f"memory://{root}"
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_fsspec_sink_uploads_each_closed_file_and_empties_its_spool(tmp_path: Path, memory_url: str) -> None:
    clock = Clock()
    sink = FsspecSink(memory_url, max_bytes=200, max_seconds=3600, spool=tmp_path / "spool", clock=clock)
    written = lines(9)
    for line in written:
        sink.write(line)
        clock.now += 1
    fs = fsspec.filesystem("memory")
    root = memory_url.removeprefix("memory://")
    uploaded_before_close = fs.ls(root, detail=False) if fs.exists(root) else []
    assert uploaded_before_close  # full files went up without waiting for close
    sink.close()
    uploaded = sorted(fs.ls(root, detail=False))
    assert len(uploaded) > len(uploaded_before_close)
    assert all(NAME.match(name.rsplit("/", 1)[1]) for name in uploaded)
    assert "".join(fs.cat(name).decode() for name in uploaded) == "".join(written)
    assert files(tmp_path / "spool") == []


def test_fsspec_sink_to_a_file_url_compressed(tmp_path: Path) -> None:
    target = tmp_path / "bucket" / "predictions"
    sink = FsspecSink(f"file://{target}", max_bytes=10**6, max_seconds=3600, compress=True, spool=tmp_path / "spool")
    sink.write("".join(lines(3)))
    assert not target.exists()  # nothing is uploaded before the file is closed
    sink.close()
    found = files(target)
    assert len(found) == 1 and found[0].name.endswith(".jsonl.gz")  # no partial upload left beside it
    assert read(found[0]) == "".join(lines(3))


def test_a_failed_upload_stays_in_the_spool_and_goes_up_at_the_next_close(tmp_path: Path) -> None:
    target = tmp_path / "bucket"
    target.write_text("a file where the bucket should be")
    clock = Clock()
    sink = FsspecSink(f"file://{target}/p", max_bytes=10**6, max_seconds=3600, spool=tmp_path / "spool", clock=clock)
    sink.write(lines(1)[0])
    with pytest.raises((FileExistsError, NotADirectoryError)):
        sink.close()
    assert len(files(tmp_path / "spool")) == 1
    target.unlink()
    clock.now += 1
    sink.write(lines(1, start=1)[0])
    sink.close()
    assert files(tmp_path / "spool") == []
    assert [read(p) for p in files(target / "p")] == [lines(1)[0], lines(1, start=1)[0]]
