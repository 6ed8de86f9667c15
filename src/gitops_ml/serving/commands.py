"""CLI commands of the service: model version, model store import, bento build, container context export,
bearer tokens and a local TLS certificate.

Each prints its result as the last line on stdout (progress goes to stderr), so a workflow can capture it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from gitops_ml.cli_support import console, report_error
from gitops_ml.serving.tokens import Role, hash_line, new_token


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Report BentoML's errors as one paragraph and exit 1 (``register`` handles the project's own)."""
    from bentoml.exceptions import BentoMLException

    try:
        yield
    except BentoMLException as exc:
        report_error(exc)
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


def token(
    role: Annotated[Role, typer.Option("--role", help="What the token may do (admin: everything).")],
) -> None:
    """Create a bearer token: print it once, then its line for the tokens file (or the Secret gitops-ml-tokens)."""
    secret = new_token()
    console.print(
        f"[bold]token of role {role.value}[/] (shown once: give it to the client or store it in a secret manager; "
        "it is not stored anywhere):",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(secret)
    console.print(
        "[bold]its hash line[/] (append it to the file named by GITOPS_ML_TOKENS_FILE, or to key `tokens` of "
        "the Kubernetes Secret gitops-ml-tokens; the service reads it at start-up):",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(hash_line(secret, role))


def tls_cert(
    directory: Annotated[Path, typer.Option("--dir", help="Folder of the certificate and key.")] = Path("build/tls"),
) -> None:
    """Create (once) a self-signed certificate for localhost and 127.0.0.1; print the certificate's path."""
    from gitops_ml.serving.tls import ensure_certificate

    pair, created = ensure_certificate(directory)
    console.print(
        f"{'created' if created else 'reusing'} {pair.cert} and {pair.key}; clients trust it with "
        f"`curl --cacert {pair.cert}`",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(str(pair.cert))
