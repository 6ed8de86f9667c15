"""The fixture project the template's own tests run on, whatever data and params the repository holds.

``tests/fixtures/project/`` keeps the built-in sample's ``params.yaml``, ``data.dvc`` and ``dvc.lock``. A temporary
project is the repository's tracked files with these three in place of the top-level ones (which are never read)
and ``dvc.yaml``'s plots made those of the fixture's task, so a fork that replaced the sample with its own data (of
any task) still runs the template's tests on the sample (see the README there). tests/support/own_files.py makes
reading the repository's own files fail outside the team's checks (tests/project).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import yaml

from gitops_ml.pipeline.plots import write_dvc_plots
from gitops_ml.tasks import Task

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "project"
FIXTURE_FILES = ("params.yaml", "data.dvc", "dvc.lock")
FIXTURE_PARAMS = FIXTURE_DIR / "params.yaml"


def overlay_fixture(dest: Path, fixture_dir: Path = FIXTURE_DIR) -> None:
    """Put the fixture project's params.yaml, data.dvc and dvc.lock (from ``fixture_dir``) into ``dest`` and make
    ``dest``'s dvc.yaml plots those of the fixture's task."""
    for name in FIXTURE_FILES:
        shutil.copy2(fixture_dir / name, dest / name)
    task = Task(yaml.safe_load((fixture_dir / "params.yaml").read_text())["schema"]["task"])
    write_dvc_plots(dest / "dvc.yaml", task)


def copy_files(names: Iterable[str], dest: Path, source: Path = ROOT) -> None:
    """Copy the files ``names`` (paths relative to ``source``) into ``dest``, keeping their times."""
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)


def copy_with_fixture(names: Iterable[str], dest: Path, fixture_dir: Path = FIXTURE_DIR) -> None:
    """Copy ``names`` (from this checkout) into ``dest`` but the repository's own params.yaml, data.dvc and
    dvc.lock, then put the fixture project's in their place (:func:`overlay_fixture`, from ``fixture_dir``)."""
    copy_files([name for name in names if name not in FIXTURE_FILES], dest)
    overlay_fixture(dest, fixture_dir)
