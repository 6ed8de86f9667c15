"""Atomic writes: a failure leaves the previous file untouched and no temporary file behind."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gitops_ml.io import atomic_write, dump_json, read_json, write_json


def test_success_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write_half_then_fail() -> None:
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_half_then_fail()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_json_is_stable_and_refuses_nan(tmp_path: Path) -> None:
    assert dump_json({"b": 1, "a": [1, 2]}) == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    write_json(tmp_path / "x.json", {"k": 1})
    assert read_json(tmp_path / "x.json") == {"k": 1}
    with pytest.raises(ValueError, match="not JSON compliant"):
        dump_json({"k": math.nan})
