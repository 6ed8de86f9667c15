"""Fixtures for the deployment manifests: a private copy of ``deploy/`` (and the CRD schemas) to change freely.

The copies are taken from this checkout's ``deploy/`` and ``tests/deploy/schemas``: the manifests are what the
tests are about. No test changes the checkout itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.projects import ROOT

DEPLOY = ROOT / "deploy"
SCHEMAS = ROOT / "tests" / "deploy" / "schemas"


@pytest.fixture
def deploy_project(tmp_path: Path) -> Path:
    """A directory laid out like the project root with copies of ``deploy/`` and ``tests/deploy/schemas``."""
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copytree(SCHEMAS, tmp_path / "tests" / "deploy" / "schemas")
    return tmp_path
