"""CLI command of deployment: ``gitops-ml deploy-check`` (``make deploy-check``, part of ``make test``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_ml.cli_support import console, out
from gitops_ml.deploy.schemas import CRD_SCHEMAS_DIR, KUBERNETES_VERSION  # light: no third-party import at the top
from gitops_ml.errors import ProjectError


class DeployCheckError(ProjectError, RuntimeError):
    """The manifests under ``deploy/`` do not render, do not validate or break a policy rule."""


def deploy_check(
    deploy_dir: Annotated[Path, typer.Option("--deploy-dir", help="The manifests' directory.")] = Path("deploy"),
    crd_schemas: Annotated[
        Path,
        typer.Option("--crd-schemas", help="JSON schemas of the custom resources (<group>/<kind>_<version>.json)."),
    ] = CRD_SCHEMAS_DIR,
    kubernetes_version: Annotated[
        str, typer.Option("--kubernetes-version", help="Validate against this Kubernetes version (pinned default).")
    ] = KUBERNETES_VERSION,
) -> None:
    """Render every kustomization under deploy/ with kubectl kustomize, validate every object strictly against
    its Kubernetes or CRD schema, and check the overlays' policy rules (probes, limits, non-root, digests, auth)."""
    from rich.markup import escape

    from gitops_ml.deploy.check import check_deploy
    from gitops_ml.deploy.render import find_kubectl

    kubectl = find_kubectl()
    console.print(
        f"rendering with {kubectl}; schemas of Kubernetes {kubernetes_version} and {crd_schemas}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    results = check_deploy(deploy_dir, crd_schemas, kubernetes_version, kubectl=kubectl)
    failed = [r for r in results if r.problems]
    for result in results:
        checks = "schemas and policies" if result.is_overlay else "schemas"
        status = "[red]FAIL[/]" if result.problems else "[green]ok[/]"
        deployed = f"; {escape(result.deployed)}" if result.deployed else ""
        out.print(
            f"{status} {escape(str(result.directory))}: {result.objects} objects, {checks}{deployed}",
            highlight=False,
            soft_wrap=True,
        )
        for problem in result.problems:
            console.print(f"  - {problem}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        count = sum(len(r.problems) for r in failed)
        names = ", ".join(str(r.directory) for r in failed)
        raise DeployCheckError(f"{count} problem(s) in {names}; each is listed above with its object and file")
