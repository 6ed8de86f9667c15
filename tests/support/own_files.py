"""Keeps the template's tests off the repository's own ``params.yaml``, ``data.dvc``, ``dvc.lock`` and ``data/``.

A fork replaces those with its own data (of any task), and the template's tests must stay green on it: they run on
the fixture project (tests/support/fixture_project.py). :func:`install` adds a Python audit hook (PEP 578, the only
way to see every ``open`` in the process, whichever library makes it) that makes opening one of those paths raise
:class:`OwnFileRead` naming the file and the fixture to use, unless :data:`allowed` says the running test is one of
the team's own checks (tests/project) or of the conformance kit (tests/conformance), which read them on purpose.
Commands the tests start run in temporary projects that hold the fixture's files instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tests.support.fixture_project import FIXTURE_FILES, ROOT

OWN_FILES = frozenset(str(ROOT / name) for name in FIXTURE_FILES)
OWN_DATA = str(ROOT / "data") + os.sep

allowed = False
"""Set while one of the team's own checks (tests/project) or the conformance kit (tests/conformance) runs."""


class OwnFileRead(PermissionError):
    """A template test opened one of the repository's own data or params files."""


def own_file(path: Any) -> str | None:
    """The absolute path if ``path`` (as given to ``open``) is one of the repository's own files, else None."""
    if isinstance(path, int) or path is None:  # a file descriptor
        return None
    try:
        absolute = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    return absolute if absolute in OWN_FILES or absolute.startswith(OWN_DATA) else None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or allowed:
        return
    path = own_file(args[0])
    if path is not None:
        raise OwnFileRead(
            f"a template test opened the repository's own {Path(path).relative_to(ROOT)}: a fork replaces it with "
            "its own data. Use a project from tests/support/projects.py (make_project) or tests/fixtures/project/."
        )


_installed = False


def install() -> None:
    """Add the audit hook to this process (once; an audit hook cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
