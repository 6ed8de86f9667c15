"""What every command module shares: the two consoles, the ``--params`` option and clean error reporting.

Kept free of heavy imports (no pandas, no sklearn), so that ``gitops-ml --help`` and every command start fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gitops_ml.errors import ProjectError

console = Console(stderr=True)
out = Console()

EXPECTED_ERRORS: tuple[type[Exception], ...] = (ProjectError, FileNotFoundError)
ParamsOption = Annotated[Path, typer.Option("--params", help="The params file.")]
F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(command: F) -> F:
    """Report the project's expected errors as one red paragraph and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
