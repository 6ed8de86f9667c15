"""The built-in sample generator for tests that need it, imported only when a test asks.

``pipeline/sample_data.py`` is an optional plug-in: a project may delete it. Tests import it through
:func:`sample_generator`, so the rest of the suite still collects and runs, and a test that needs the sample fails
with a message that says why instead of an import error at collection.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from gitops_ml.pipeline.interface import SAMPLE_MODULE


def sample_generator() -> ModuleType:
    """The module ``gitops_ml.pipeline.sample_data`` (``generate_transactions``, ``write_sample``)."""
    try:
        return importlib.import_module(SAMPLE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != SAMPLE_MODULE:
            raise
        pytest.fail(
            "this test runs on the built-in sample, but src/gitops_ml/pipeline/sample_data.py is gone: restore it "
            "from the template, or delete the template's tests that run on the sample",
            pytrace=False,
        )
