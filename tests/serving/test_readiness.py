"""Readiness and liveness follow the model load: not ready while loading, not alive if loading failed; once loaded,
the startup objects are frozen out of the garbage collector's full collections (gc.freeze).

The service class runs in a subprocess (its module resolves the model in the temporary BENTOML_HOME at import)
with the loader held on an event, so "not ready yet" is observed deterministically rather than raced.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.projects import run
from tests.support.serving import BuiltBento

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import gc
    import threading

    from gitops_ml.serving import service

    release = threading.Event()
    real = service.stored_files

    def held(model_dir):
        release.wait(30)
        return real(model_dir)

    def broken(model_dir):
        raise ValueError("model file is corrupt")

    service.stored_files = held
    svc = service.PredictionService.inner()
    print("while loading: ready", svc.__is_ready__(), "alive", svc.__is_alive__(), "frozen", gc.get_freeze_count() > 0)
    release.set()
    svc._loaded.wait(30)
    print("after loading: ready", svc.__is_ready__(), "alive", svc.__is_alive__(), "frozen", gc.get_freeze_count() > 0)

    service.stored_files = broken
    failed = service.PredictionService.inner()
    failed._loaded.wait(30)
    print("after a failed load: ready", failed.__is_ready__(), "alive", failed.__is_alive__())
    """
)


def test_ready_only_once_the_model_is_loaded(built_bento: BuiltBento, tmp_path: Path) -> None:
    result = run(["python", "-c", SCRIPT], tmp_path, env=built_bento.env)
    assert result.stdout.splitlines()[-3:] == [
        "while loading: ready False alive True frozen False",
        "after loading: ready True alive True frozen True",  # startup objects out of the collector's full passes
        "after a failed load: ready False alive False",
    ]
