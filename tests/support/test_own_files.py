"""The guard that keeps the template's tests off the repository's own params and data (tests/support/own_files.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.support import own_files
from tests.support.fixture_project import FIXTURE_PARAMS, ROOT


@pytest.mark.parametrize("name", ["params.yaml", "data.dvc", "dvc.lock", "data/anything.csv"])
def test_opening_the_repositorys_own_files_fails_naming_the_file(name: str) -> None:
    with pytest.raises(own_files.OwnFileRead, match=f"the repository's own {name}: a fork replaces it"):
        open(ROOT / name)  # noqa: SIM115  # never opened: the hook refuses first


def test_a_relative_path_and_a_library_reading_it_are_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(own_files.OwnFileRead):
        Path("params.yaml").read_text()
    with pytest.raises(own_files.OwnFileRead):
        pd.read_csv("data/transactions.csv")


def test_the_fixture_project_and_other_files_stay_readable() -> None:
    assert "task: binary" in FIXTURE_PARAMS.read_text()
    assert "[project]" in (ROOT / "pyproject.toml").read_text()


def test_the_teams_own_checks_may_read_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(own_files, "allowed", True)
    assert "schema:" in (ROOT / "params.yaml").read_text()
