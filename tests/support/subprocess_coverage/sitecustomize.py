"""Keep coverage's tracer out of the test suite's subprocesses that need not be measured.

pytest-cov measures subprocesses too (``patch = ["subprocess"]`` in pyproject.toml): coverage's own ``.pth`` hook
starts a tracer in every Python process the tests start. On Python 3.11 that tracer sees every function call: a
``dvc`` command took 60 to 100% longer under it, and an end-to-end test of the pipeline a third longer (131 s
against 86 s). tests/conftest.py puts this folder on PYTHONPATH, so Python imports this module after the ``.pth``
hooks; it stops the tracer

- in the processes of :data:`UNMEASURED_PROGRAMS`, which run none of gitops_ml's code (their children, the
  stages, stay measured), and
- in every process started while a ``slow`` end-to-end test runs (tests/conftest.py sets :data:`UNTRACED_ENV`
  then): those flows run the commands the fast tests measure, end to end and many times over.

Written here because coverage has no per-program switch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

UNMEASURED_PROGRAMS = frozenset({"dvc", "mlflow"})
"""Console scripts (or ``-m`` modules) whose processes run no gitops_ml code; their children stay measured."""
UNTRACED_ENV = "GITOPS_ML_TESTS_UNTRACED"
"""Set (to 1) in the environment of the processes a slow test starts: none of them is traced."""
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


def untraced(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether a process with this command line and environment runs without coverage's tracer."""
    return environ.get(UNTRACED_ENV) == "1" or program(argv) in UNMEASURED_PROGRAMS


def stop_coverage_if_untraced(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Stop this process's coverage tracer when :func:`untraced` says so; say if it did."""
    if not untraced(argv, environ):
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


stop_coverage_if_untraced(sys.orig_argv, os.environ)
