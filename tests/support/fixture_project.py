"""The fixture project the template's own tests run on, whatever data and params the repository holds.

``tests/fixtures/project/`` keeps the built-in sample's ``params.yaml``, ``data.dvc`` and ``dvc.lock``. A temporary
project is the repository's tracked files with these three laid over the top-level ones, so a fork that replaced
the sample with its own data still runs the template's tests on the sample (see the README there).
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "project"
FIXTURE_FILES = ("params.yaml", "data.dvc", "dvc.lock")
FIXTURE_PARAMS = FIXTURE_DIR / "params.yaml"


def overlay_fixture(dest: Path) -> None:
    """Replace ``dest``'s params.yaml, data.dvc and dvc.lock with the fixture project's."""
    for name in FIXTURE_FILES:
        shutil.copy2(FIXTURE_DIR / name, dest / name)
