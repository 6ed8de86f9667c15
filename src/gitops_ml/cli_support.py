"""What every command module shares: the two consoles, the ``--params`` option and clean error reporting.

Kept free of heavy imports (no pandas, no sklearn), so that ``gitops-ml --help`` and every command start fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from gitops_ml.errors import ProjectError

console = Console(stderr=True)
out = Console()

EXPECTED_ERRORS: tuple[type[Exception], ...] = (ProjectError, FileNotFoundError)
ParamsOption = Annotated[Path, typer.Option("--params", help="The params file.")]
P = ParamSpec("P")
R = TypeVar("R")


def clean_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Report the project's expected errors as one red paragraph and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper
