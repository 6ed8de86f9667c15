"""CLI commands of the template itself: ``footprint``, ``init-project``, ``rename``, ``upgrade`` and
``engine-test`` (docs/upgrading.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_ml.cli_support import out, say

ProjectOption = Annotated[Path, typer.Option("--project", help="The project's root (a git repository).")]


def footprint(
    project: ProjectOption = Path(),
    top: Annotated[int, typer.Option("--top", min=0, help="How many of the team's largest files to list.")] = 10,
) -> None:
    """Print the tracked files and lines of text of each part: the team's, the engine's, the template's own
    (never copied into a project) and the generated ones (lockfiles, not counted as anyone's). parts.yaml says
    which is which."""
    from rich.table import Table

    from gitops_ml.template.parts import Part, footprint

    sizes = footprint(project)
    table = Table("part", "files", "lines of text")
    for part, size in sizes.items():
        table.add_row(part.value, f"{size.files:,}", f"{size.lines:,}")
    out.print(f"Tracked files of {project.resolve().name}, per part of parts.yaml (binary files left out):")
    out.print(table)
    team = sizes[Part.TEAM]
    if top and team.largest:
        out.print(f"The team's {min(top, len(team.largest))} largest files:", highlight=False)
        for lines, name in team.largest[:top]:
            out.print(f"  {lines:>6,}  {name}", highlight=False, markup=False)


def init_project(
    source: Annotated[
        str, typer.Option("--from", help="Where the template lives: its git URL, or a path to a clone with tags.")
    ],
    project: ProjectOption = Path(),
) -> None:
    """After GitHub's 'Use this template': record where the template lives and at which version (for `make
    upgrade`), and remove what stays in the template (its own tests, benchmarks, performance pages); one commit."""
    from gitops_ml.template.upgrade import init_project as start

    start(project, source, say=say)


def rename(
    name: Annotated[str, typer.Argument(help="The project's new name (letters, digits, _ . - between them).")],
    project: ProjectOption = Path(),
) -> None:
    """Name the project: project.name in params.yaml (the MLflow experiment, the bento, the release notes), its
    Python distribution (pyproject.toml and uv.lock) and the README's title, all at once."""
    from gitops_ml.template.naming import rename_project

    params = rename_project(project, name)
    say(f"the project is now {params.project.name}: project.name in params.yaml, the Python distribution in "
        "pyproject.toml and uv.lock, and README.md's title unless you wrote your own; commit them, and the next "
        "`make` target installs the project under that name")  # fmt: skip


def upgrade(
    to: Annotated[
        str | None, typer.Option("--to", help="The template version to go to (vX.Y.Z; default: the newest).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--from", help="Take the template from here this once (a URL or a local clone with its tags)."),
    ] = None,
    project: ProjectOption = Path(),
) -> None:
    """Bring this project to a newer template version in one commit, keeping every change the team made
    (copier's three-way merge); a conflict is left as conflict markers in the named files, uncommitted."""
    from gitops_ml.template.upgrade import upgrade as run

    commit = run(project, to=to, source=source, say=say)
    if commit:
        out.print(commit, highlight=False)


def engine_test(
    source: Annotated[
        str | None,
        typer.Option("--from", help="Take the template from here this once (a URL or a local clone with its tags)."),
    ] = None,
    pytest_args: Annotated[
        str, typer.Option("--pytest-args", help="More pytest arguments, as one shell-quoted string (select tests).")
    ] = "",
    workers: Annotated[int, typer.Option("--workers", min=0, help="pytest-xdist processes (0: none).")] = 2,
    project: ProjectOption = Path(),
) -> None:
    """Run the template's own suite, at the version this project records, on this project's engine files (the
    team's files stay the template's), in a temporary clone; exit with pytest's status."""
    import shlex

    from gitops_ml.template.engine_suite import run_engine_suite

    status = run_engine_suite(project, source=source, pytest_args=shlex.split(pytest_args), workers=workers, say=say)
    if status:
        raise typer.Exit(status)
