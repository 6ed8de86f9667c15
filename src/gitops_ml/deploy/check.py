"""``gitops-ml deploy-check``'s work: render every kustomization under ``deploy/``, validate, apply the rules.

Every directory under ``deploy/`` with a ``Kustomization`` (components are rendered as part of the overlays that
use them) is rendered with ``kubectl kustomize`` and each object is validated against its schema
(:mod:`~gitops_ml.deploy.schemas`); the environments' overlays (``deploy/overlays/*``) must also pass the
policy rules (:mod:`~gitops_ml.deploy.policy`). A target that fails to render is reported and the others are
still checked, so one run lists every problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitops_ml.deploy.overlay import OverlayError, read_overlay
from gitops_ml.deploy.policy import Overlay, check_overlay
from gitops_ml.deploy.render import RenderError, find_kubectl, kustomization_dirs, render
from gitops_ml.deploy.schemas import CRD_SCHEMAS_DIR, KUBERNETES_VERSION, validate_object


@dataclass(frozen=True)
class TargetResult:
    """What checking one kustomization found."""

    directory: Path
    objects: int
    is_overlay: bool
    problems: list[str] = field(default_factory=list)
    deployed: str = ""
    """For an overlay: the model version and image it deploys, or that nothing is deployed yet."""


def check_deploy(
    deploy_dir: Path | str = "deploy",
    schemas_dir: Path | str = CRD_SCHEMAS_DIR,
    kubernetes_version: str = KUBERNETES_VERSION,
    root: Path | str = ".",
    kubectl: Path | None = None,
) -> list[TargetResult]:
    """Check every kustomization under ``deploy_dir``; one result per kustomization, in path order."""
    deploy_dir, schemas_dir = Path(deploy_dir), Path(schemas_dir)
    if not deploy_dir.is_dir():
        raise RenderError(f"{deploy_dir}: no such directory (run from the project root, or pass --deploy-dir)")
    if not schemas_dir.is_dir():
        raise RenderError(f"{schemas_dir}: no such directory of custom resource schemas (--crd-schemas)")
    tool = kubectl or find_kubectl()
    overlays_dir = (deploy_dir / "overlays").resolve()
    results: list[TargetResult] = []
    for directory in kustomization_dirs(deploy_dir):
        is_overlay = directory.resolve().parent == overlays_dir
        try:
            objects = render(directory, root=root, kubectl=tool)
        except RenderError as exc:
            results.append(TargetResult(directory, 0, is_overlay, [str(exc)]))
            continue
        problems = [
            f"{obj.describe()}: {message}"
            for obj in objects
            for message in validate_object(obj, schemas_dir, kubernetes_version)
        ]
        deployed = ""
        if is_overlay:
            problems += [str(finding) for finding in check_overlay(Overlay(directory, objects))]
            deployed = _deployed(directory)
        results.append(TargetResult(directory, len(objects), is_overlay, problems, deployed))
    if not results:
        raise RenderError(f"{deploy_dir}: no kustomization.yaml found below it")
    return results


def _deployed(overlay: Path) -> str:
    try:
        image = read_overlay(overlay)
    except OverlayError:
        return ""  # already reported by the pinned-images rule
    if not image.released:
        return "nothing deployed yet (placeholder image, model version unreleased)"
    return f"{image.model_version} ({image.reference})"
