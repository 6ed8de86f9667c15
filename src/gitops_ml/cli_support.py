"""What every command module shares: the two consoles, the ``--params`` option and clean error reporting.

Every error message and every progress line a command prints may hold text from outside (an artifact's key, a
file's value, a server's answer), so both go through :func:`gitops_ml.terminal.terminal_text`: :func:`report_error`
for the one-line error, :func:`say` for progress (pass it as the ``say`` callback of the flows).

Kept free of heavy imports (no pandas, no sklearn), so that ``gitops-ml --help`` and every command start fast.
"""

from __future__ import annotations

import atexit
import functools
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from gitops_ml.errors import ProjectError
from gitops_ml.terminal import terminal_text

console = Console(stderr=True)
out = Console()

EXPECTED_ERRORS: tuple[type[Exception], ...] = (ProjectError, FileNotFoundError)
ParamsOption = Annotated[Path, typer.Option("--params", help="The params file.")]
P = ParamSpec("P")
R = TypeVar("R")


def skip_the_final_collection() -> None:
    """Let this process exit without Python's last garbage collection over everything it imported.

    At exit, CPython runs one full collection of every container object still alive, to find cycles before the
    modules are torn down; after pandas, scikit-learn and MLflow are imported that walk alone takes 0.2 to 1.1 s
    (py-spy: ``gc_collect_main`` at shutdown), paid by every stage, once per ``dvc repro``. Freezing the heap as
    the last exit handler (the first registered runs last) moves everything into the generation collections skip.
    Exit handlers still run and objects are still freed; only finalizers of objects in reference cycles, which
    Python does not promise to run at exit, are not.
    """
    atexit.register(gc.freeze)


def say(message: object) -> None:
    """Print a progress line on stderr, made safe by :func:`~gitops_ml.terminal.terminal_text`."""
    console.print(terminal_text(message), soft_wrap=True)


def report_error(error: object) -> None:
    """Print ``error: <message>`` on stderr, the message made safe by :func:`~gitops_ml.terminal.terminal_text`."""
    console.print(Text.assemble(("error:", "bold red"), " ", terminal_text(error)), soft_wrap=True)


def clean_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Report the project's expected errors as one red paragraph and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as exc:
            report_error(exc)
            raise typer.Exit(1) from None

    return wrapper
