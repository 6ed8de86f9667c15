"""CLI commands of the deploy flow (panel "Deploy"): ``deploy-pr``, ``promote-env``, ``rollback``, ``sync-champion``.

The first three open (or update) a pull request that changes one overlay (:mod:`gitops_ml.gitops.deploy_pr`);
``sync-champion`` runs after such a PR to production is merged. GitHub is reached with ``GITHUB_REPOSITORY``,
``GITHUB_TOKEN`` and ``GITHUB_API_URL`` (environment only, so the token never shows in a process list).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gitops_ml import paths
from gitops_ml.cli_support import ParamsOption, console, out, say

if TYPE_CHECKING:
    from gitops_ml.gitops.deploy_pr import DeployRequest

BaseOption = Annotated[
    str, typer.Option(envvar="DEFAULT_BRANCH", help="The branch the pull request merges into (the default branch).")
]
RemoteOption = Annotated[str, typer.Option(help="The git remote the branch is pushed to.")]


def _open(request: DeployRequest, base: str, remote: str) -> None:
    from gitops_ml.gitops.deploy_pr import open_deploy_pr
    from gitops_ml.gitops.github_api import GitHub
    from gitops_ml.vcs import write_github_outputs

    with GitHub.from_env() as api:
        done = open_deploy_pr(
            Path.cwd(), request, api, base=base, remote=remote, token=os.environ.get("GITHUB_TOKEN"), say=say
        )
    write_github_outputs({"action": done.action, "pull": str(done.pull.number) if done.pull else ""})
    out.print(done.pull.html_url if done.pull else f"{request.environment}: already {request.image.model_version}")


def deploy_pr(
    env: Annotated[str, typer.Option("--env", help="The overlay to change: deploy/overlays/<env>.")],
    image: Annotated[str, typer.Option(envvar="IMAGE_REF", help="The image, <registry>/<repo>@sha256:<digest>.")],
    model_version: Annotated[str, typer.Option(envvar="MODEL_VERSION", help="The release it was built from.")],
    base: BaseOption = "main",
    remote: RemoteOption = "origin",
) -> None:
    """Open the pull request that deploys IMAGE (model-vN) to ENV (release.yml: staging after a publish)."""
    from gitops_ml.gitops.deploy_pr import DeployRequest, parse_image

    deployed = parse_image(image, model_version)
    _open(DeployRequest(env, deployed, f"Deploys the new release {model_version}."), base, remote)


def promote_env(
    env: Annotated[str, typer.Option("--env", help="The environment to promote to.")] = "production",
    base: BaseOption = "main",
    remote: RemoteOption = "origin",
) -> None:
    """Open the pull request that copies staging's image (same digest) to ENV (production)."""
    from gitops_ml.gitops.deploy_pr import promote_request

    _open(promote_request(Path.cwd(), env), base, remote)


def rollback(
    to: Annotated[str, typer.Option("--to", help="The earlier release production goes back to, model-vK.")],
    base: BaseOption = "main",
    remote: RemoteOption = "origin",
) -> None:
    """Open the pull request that sets production back to the digest model-vK was deployed with."""
    from gitops_ml.gitops.deploy_pr import rollback_request

    _open(rollback_request(Path.cwd(), to), base, remote)


def sync_champion(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Point the MLflow `champion` alias and the latest GitHub Release at the release production declares."""
    from gitops_ml.config import load_params
    from gitops_ml.gitops.champion import materialise
    from gitops_ml.gitops.github_api import GitHub
    from gitops_ml.gitops.release import set_champion
    from gitops_ml.gitops.sync_champion import mark_latest_release, production_release
    from gitops_ml.tracking import tracking_uri

    repo = Path.cwd()
    tag = production_release(repo).tag
    if tag is None:
        out.print("production runs nothing yet (unreleased): the champion is the newest release; nothing to sync")
        return
    params = load_params(params_path)
    uri = tracking_uri(params)
    if uri.startswith(("http://", "https://")):
        with tempfile.TemporaryDirectory(prefix="sync-champion-") as tmp:

            def model() -> Path:  # only when MLflow has no version of this release yet
                return materialise(repo, tag, Path(tmp) / "model.skops", say=say).path

            version = set_champion(params, uri, tag, model, paths.TEST)
        out.print(f"MLflow model '{params.tracking.experiment}' version {version} is now @champion ({tag})")
    else:
        console.print(f"MLFLOW_TRACKING_URI is not an MLflow server ({uri}); no alias set")
    if not os.environ.get("GITHUB_TOKEN"):
        console.print("GITHUB_TOKEN is not set; the latest GitHub Release is not changed")
        return
    with GitHub.from_env() as api:
        mark_latest_release(api, tag, say=say)
