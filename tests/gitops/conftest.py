"""Fixtures of the gitops tests; the helpers they are built from live in ``tests/support/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml.tasks import Task
from tests.support.task_sides import write_side


@pytest.fixture(scope="session")
def task_sides(tmp_path_factory: pytest.TempPathFactory) -> dict[Task, tuple[Path, Path]]:
    """Per task, (base, head) evaluated on the same test rows: a nearly skill-less (strongly regularised) base and a
    fitted head."""
    root = tmp_path_factory.mktemp("task-sides")
    return {
        task: (
            write_side(root / task.value / "base", task, strength=0.001),
            write_side(root / task.value / "head", task),
        )
        for task in Task
    }
