"""Keep coverage off in the test suite's subprocesses that run none of gitops_ml's code (DVC, the MLflow server).

pytest-cov measures subprocesses too (``patch = ["subprocess"]`` in pyproject.toml): coverage's own ``.pth`` hook
starts a tracer in every Python process the tests start. On Python 3.11 that tracer sees every function call, so a
``dvc`` command, which never runs gitops_ml code itself, took 60 to 100% longer; DVC's children (the stages, which
are ``gitops-ml`` commands) still need measuring. tests/conftest.py puts this folder on PYTHONPATH, so Python imports
this module after the ``.pth`` hooks: it stops the tracer in the processes of the programs below and leaves every
other process, and the environment their children inherit, as they were. Written here because coverage has no
per-program switch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

UNMEASURED_PROGRAMS = frozenset({"dvc", "mlflow"})
"""Console scripts (or ``-m`` modules) whose processes run no gitops_ml code; their children stay measured."""
_OPTIONS_WITH_VALUE = frozenset({"-X", "-W"})


def program(argv: Sequence[str]) -> str:
    """The script's file name or the ``-m`` module a Python command line runs; "" for ``-c`` or an interactive one."""
    args = iter(argv[1:])
    for arg in args:
        if arg in _OPTIONS_WITH_VALUE:
            next(args, None)
        elif arg == "-m":
            return next(args, "")
        elif arg == "-c":
            return ""
        elif not arg.startswith("-"):
            return os.path.basename(arg)
    return ""


def stop_coverage_in_unmeasured_program(argv: Sequence[str]) -> bool:
    """Stop this process's coverage tracer when ``argv`` runs one of :data:`UNMEASURED_PROGRAMS`; say if it did."""
    if program(argv) not in UNMEASURED_PROGRAMS:
        return False
    try:
        import coverage
    except ImportError:
        return False
    current = coverage.Coverage.current()
    if current is None:
        return False
    current.stop()
    return True


stop_coverage_in_unmeasured_program(sys.orig_argv)
