"""The hook that keeps coverage's tracer out of DVC's and MLflow's processes, and out of those a slow test starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SUBPROCESS_COVERAGE_HOOK
from tests.support.projects import VENV_BIN, project_env
from tests.support.subprocess_coverage.sitecustomize import UNTRACED_ENV, program


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/python", "/venv/bin/dvc", "repro", "--force"], "dvc"),
        (["python3", "-X", "importtime", "-m", "mlflow", "server"], "mlflow"),
        (["python", "-W", "ignore", "/venv/bin/gitops-ml", "evaluate"], "gitops-ml"),
        (["python", "-c", "import dvc"], ""),
        (["python"], ""),
    ],
)
def test_the_program_is_read_from_the_command_line(argv: list[str], expected: str) -> None:
    assert program(argv) == expected


MEASURING = (
    "import coverage, sys; print(coverage.Coverage.current() is not None and coverage.Coverage.current()._started)"
)


def measured(argv_tail: list[str], tmp_path: Path, extra: dict[str, str] | None = None) -> str:
    """Whether coverage runs in a Python process started with the suite's environment and ``argv_tail``."""
    config = tmp_path / ".coveragerc"
    config.write_text(f"[run]\ndata_file = {tmp_path / '.coverage'}\nparallel = true\n")
    env = {k: v for k, v in project_env({"COVERAGE_PROCESS_START": str(config)}).items() if k != UNTRACED_ENV}
    env |= extra or {}
    assert str(SUBPROCESS_COVERAGE_HOOK) in env["PYTHONPATH"].split(":")
    result = subprocess.run(argv_tail, env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_a_dvc_process_runs_without_the_tracer_and_others_keep_it(tmp_path: Path) -> None:
    script = tmp_path / "dvc"
    script.write_text(MEASURING)
    other = tmp_path / "gitops-ml"
    other.write_text(MEASURING)
    python = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
    assert measured([python, str(script)], tmp_path) == "False"
    assert measured([python, str(other)], tmp_path) == "True"
    assert measured([python, str(other)], tmp_path, {UNTRACED_ENV: "1"}) == "False"  # started by a slow test
