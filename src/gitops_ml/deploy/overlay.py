"""The image an environment deploys, as its overlay's ``kustomization.yaml`` declares it: read it, change it.

Each overlay (``deploy/overlays/<env>/kustomization.yaml``) pins the service's image by digest and carries the
model version as a label that is in no selector::

    labels:
      - pairs:
          app.kubernetes.io/version: model-v3
        includeSelectors: false
        includeTemplates: true
    images:
      - name: gitops-ml-service
        newName: ghcr.io/owner/repo
        digest: sha256:<64 hex>

Promotion and rollback are pull requests that change exactly these three values with :func:`write_overlay`,
which edits the file in place (ruamel.yaml round trip: comments, key order and layout stay as they were) and
replaces it atomically. Before a fork's first release an overlay holds :data:`UNRELEASED`: the version
``unreleased`` with the all-zero placeholder digest, which :attr:`DeployedImage.released` reports as "nothing
deployed yet". A malformed overlay raises :class:`OverlayError` naming the file, the field and the fix.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from gitops_ml.errors import ProjectError
from gitops_ml.io import atomic_write

IMAGE_NAME = "gitops-ml-service"
"""The image name the base's Deployment uses; an overlay's ``images:`` entry of that name replaces it."""
VERSION_LABEL = "app.kubernetes.io/version"
"""The label that carries the model version an environment runs (never part of a selector)."""
UNRELEASED_VERSION = "unreleased"
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
PLACEHOLDER_REPOSITORY = "registry.invalid/unreleased/gitops-ml-service"
OVERLAYS_DIR = Path("deploy") / "overlays"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MODEL_VERSION = re.compile(r"^model-v[1-9][0-9]*$")
# An image name without tag or digest, as the distribution reference grammar has it: an optional registry host
# (with a port), then lowercase path components separated by `/`.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*$")


class OverlayError(ProjectError, ValueError):
    """An overlay's kustomization does not declare the deployed image in the expected shape."""


@dataclass(frozen=True)
class DeployedImage:
    """The image an environment runs: ``repository@digest``, built from the release ``model_version``."""

    repository: str
    digest: str
    model_version: str

    def __post_init__(self) -> None:
        if not REPOSITORY.fullmatch(self.repository):
            raise OverlayError(
                f"image repository {self.repository!r} is not an image name: expected <registry>/<path> in "
                "lowercase, without a tag or digest (e.g. ghcr.io/owner/repo)"
            )
        if not DIGEST.fullmatch(self.digest):
            raise OverlayError(f"image digest {self.digest!r} is not sha256:<64 lowercase hex digits>")
        if self.model_version != UNRELEASED_VERSION and not MODEL_VERSION.fullmatch(self.model_version):
            raise OverlayError(
                f"model version {self.model_version!r} is neither a release (model-vN) nor {UNRELEASED_VERSION!r}"
            )
        if (self.model_version == UNRELEASED_VERSION) != (self.digest == PLACEHOLDER_DIGEST):
            raise OverlayError(
                f"model version {self.model_version!r} with digest {self.digest}: the placeholder digest "
                f"{PLACEHOLDER_DIGEST} goes with {UNRELEASED_VERSION!r} and only with it"
            )

    @property
    def released(self) -> bool:
        """False while the overlay holds the placeholder (nothing has been deployed to the environment yet)."""
        return self.model_version != UNRELEASED_VERSION

    @property
    def reference(self) -> str:
        """The image reference the cluster pulls: ``repository@digest``."""
        return f"{self.repository}@{self.digest}"


UNRELEASED = DeployedImage(PLACEHOLDER_REPOSITORY, PLACEHOLDER_DIGEST, UNRELEASED_VERSION)
"""What a fork's overlays hold before its first release."""


def overlay_dir(environment: str, root: Path | str = ".") -> Path:
    """The overlay directory of ``environment`` (e.g. ``staging``) in the project at ``root``."""
    overlays = Path(root) / OVERLAYS_DIR
    path = overlays / environment
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", environment) or not path.is_dir():
        known = ", ".join(environments(root)) or "none"
        raise OverlayError(f"no overlay {environment!r} in {overlays} (environments: {known})")
    return path


def environments(root: Path | str = ".") -> list[str]:
    """The names of the overlays under ``deploy/overlays`` of ``root`` that have a kustomization file."""
    overlays = Path(root) / OVERLAYS_DIR
    if not overlays.is_dir():
        return []
    return sorted(p.name for p in overlays.iterdir() if p.is_dir() and _find_kustomization(p) is not None)


def kustomization_file(overlay: Path | str) -> Path:
    """The kustomization file of ``overlay`` (a directory), or ``overlay`` itself when it is the file."""
    path = Path(overlay)
    if path.is_file():
        return path
    found = _find_kustomization(path)
    if found is None:
        raise OverlayError(f"{path}: no kustomization.yaml in this directory (is it an overlay?)")
    return found


def read_overlay(overlay: Path | str) -> DeployedImage:
    """The image and model version the overlay deploys (``overlay``: its directory or kustomization file)."""
    path = kustomization_file(overlay)
    image, pairs = _deployed_fields(_load(path), path)
    repository = _text(image, "newName", path, f"images[{IMAGE_NAME}]")
    digest = _text(image, "digest", path, f"images[{IMAGE_NAME}]")
    model_version = _text(pairs, VERSION_LABEL, path, "labels[].pairs")
    try:
        return DeployedImage(repository=repository, digest=digest, model_version=model_version)
    except OverlayError as exc:
        raise OverlayError(f"{path}: {exc}") from None


def write_overlay(overlay: Path | str, image: DeployedImage) -> Path:
    """Set the overlay's image and model version to ``image``, keeping the rest of the file as it was.

    The file is checked first (the same checks as :func:`read_overlay`) and replaced atomically; returns its path.
    """
    path = kustomization_file(overlay)
    doc = _load(path)
    entry, pairs = _deployed_fields(doc, path)
    entry["newName"] = image.repository
    entry["digest"] = image.digest
    pairs[VERSION_LABEL] = image.model_version
    out = io.StringIO()
    _yaml().dump(doc, out)
    with atomic_write(path) as tmp:
        tmp.write_text(out.getvalue(), encoding="utf-8")
    return path


def _find_kustomization(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def _yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.width = 120
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.preserve_quotes = True
    return rt


def _load(path: Path) -> CommentedMap:
    try:
        doc = _yaml().load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OverlayError(f"{path}: file not found") from None
    except YAMLError as exc:
        raise OverlayError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, CommentedMap):
        raise OverlayError(f"{path}: expected a kustomization (a YAML mapping) at the top level")
    return doc


def _deployed_fields(doc: CommentedMap, path: Path) -> tuple[CommentedMap, CommentedMap]:
    """The ``images:`` entry of :data:`IMAGE_NAME` and the ``labels:`` pairs holding :data:`VERSION_LABEL`."""
    shape = (
        f"expected `images: [{{name: {IMAGE_NAME}, newName: <registry>/<repo>, digest: sha256:<hex>}}]` "
        "(see docs/deploy.md)"
    )
    images = doc.get("images")
    if not isinstance(images, CommentedSeq):
        raise OverlayError(f"{path}: images: missing or not a list; {shape}")
    entries = [e for e in images if isinstance(e, CommentedMap) and e.get("name") == IMAGE_NAME]
    if len(entries) != 1:
        found = "no entry" if not entries else f"{len(entries)} entries"
        raise OverlayError(f"{path}: images: {found} named {IMAGE_NAME}; {shape}")
    entry = entries[0]
    if "newTag" in entry:
        raise OverlayError(
            f"{path}: images[{IMAGE_NAME}].newTag is set: an overlay pins its image by digest only; "
            "remove newTag and set digest: sha256:<hex>"
        )

    label_shape = (
        f"expected `labels: [{{pairs: {{{VERSION_LABEL}: <model-vN>}}, includeSelectors: false, "
        "includeTemplates: true}]`"
    )
    common = doc.get("commonLabels")
    if isinstance(common, CommentedMap) and VERSION_LABEL in common:
        raise OverlayError(
            f"{path}: commonLabels.{VERSION_LABEL}: commonLabels enter selectors, which cannot change on a "
            f"Deployment; move it to labels ({label_shape})"
        )
    labels = doc.get("labels")
    holders: list[CommentedMap] = []
    if isinstance(labels, CommentedSeq):
        holders = [
            item
            for item in labels
            if isinstance(item, CommentedMap)
            and isinstance(item.get("pairs"), CommentedMap)
            and VERSION_LABEL in item["pairs"]
        ]
    if len(holders) != 1:
        found = "no" if not holders else str(len(holders))
        raise OverlayError(f"{path}: labels: {found} entries set {VERSION_LABEL}; {label_shape}")
    if holders[0].get("includeSelectors", False) is not False:
        raise OverlayError(
            f"{path}: labels: the entry with {VERSION_LABEL} has includeSelectors other than false: the model "
            "version must stay out of selectors (they cannot change once a Deployment exists)"
        )
    pairs: CommentedMap = holders[0]["pairs"]
    return entry, pairs


def _text(mapping: CommentedMap, key: str, path: Path, where: str) -> str:
    value: Any = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise OverlayError(f"{path}: {where}.{key}: missing or not a string")
    return value
