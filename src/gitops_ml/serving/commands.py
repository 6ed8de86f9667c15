"""CLI commands of the service: model version, model store import, bento build and container context export.

Each prints its result as the last line on stdout (progress goes to stderr), so a workflow can capture it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from gitops_ml.cli_support import console


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Report BentoML's errors as one paragraph and exit 1 (``register`` handles the project's own)."""
    from bentoml.exceptions import BentoMLException

    try:
        yield
    except BentoMLException as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


VersionOption = Annotated[
    str | None,
    typer.Option(
        "--version",
        envvar="MODEL_VERSION",
        help="Model version [default: the model-v* tag on HEAD, else dev-<short commit>].",
    ),
]


def model_version(version: VersionOption = None) -> None:
    """Print the model version (sanitized for BentoML tags)."""
    from gitops_ml.serving.store import model_version as resolve

    with _store_errors():
        typer.echo(resolve(Path.cwd(), version))


def import_model(
    version: VersionOption = None,
    params_path: Annotated[Path, typer.Option("--params", help="The params file.")] = Path("params.yaml"),
) -> None:
    """Copy models/model.skops (and params.yaml) into the BentoML model store, labelled; print the model tag."""
    from gitops_ml.serving.store import import_model as do_import

    with _store_errors():
        tag = do_import(Path.cwd(), version, params_path)
    typer.echo(tag)


def build_bento(version: VersionOption = None) -> None:
    """Import the model and build the bento versioned with the model version; print the bento tag."""
    from gitops_ml.serving.bento import BENTO_TAG_FILE
    from gitops_ml.serving.bento import build_bento as build

    with _store_errors(), console.status("building the bento"):
        tag = build(Path.cwd(), version)
    console.print(f"built bento {tag} (tag written to {BENTO_TAG_FILE})")
    typer.echo(tag)


def bento_context(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the build context to.")] = Path(
        "build/bento-context"
    ),
    tag: Annotated[str | None, typer.Option(help="Bento tag [default: the one in reports/bento_tag.txt].")] = None,
) -> None:
    """Export the bento's container build context (Dockerfile, code, models); print the Dockerfile path."""
    from gitops_ml.serving.bento import BENTO_TAG_FILE, export_context

    if tag is None:
        if not BENTO_TAG_FILE.exists():
            raise FileNotFoundError(f"{BENTO_TAG_FILE}: missing; run `make bento` first or pass --tag")
        tag = BENTO_TAG_FILE.read_text(encoding="utf-8").strip()
    with _store_errors():
        dockerfile = export_context(tag, out_dir)
    typer.echo(str(dockerfile))
