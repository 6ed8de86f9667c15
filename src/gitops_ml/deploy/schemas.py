"""Validate rendered objects strictly: built-in kinds against Kubernetes' schemas, custom resources against theirs.

Built-in kinds use the strict JSON schemas (every unknown field is an error) that PyPI's ``kubernetes-validate``
bundles, for the Kubernetes version pinned in :data:`KUBERNETES_VERSION` (the one place it is set). Custom
resources (Argo CD ``Application``, Flux ``Kustomization`` and ``GitRepository``, Prometheus Operator
``ServiceMonitor``, ARC ``AutoscalingRunnerSet``, Dask ``DaskCluster``) use JSON schemas derived from their CRDs,
kept under ``tests/deploy/schemas/<group>/<kind>_<version>.json`` (see the README there). Those schemas close
every nested object but leave the top level open, so an unknown top-level field (``spce:`` for ``spec:``) is
checked here as well (``apiVersion``, ``kind`` and ``metadata`` are always known). An object of a kind with no
schema is an error, never skipped.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from gitops_ml.deploy.render import RenderedObject
from gitops_ml.errors import ProjectError

KUBERNETES_VERSION = "1.32"
"""The Kubernetes version the manifests are validated against: the oldest cluster version you support."""
CRD_SCHEMAS_DIR = Path("tests") / "deploy" / "schemas"
_OBJECT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
"""Fields of every object, known at the top level even where a CRD's schema does not list them (the Dask ones)."""


class SchemaError(ProjectError, RuntimeError):
    """The schema validation could not run (a missing library, an unreadable schema file)."""


def crd_schema_path(obj: RenderedObject, schemas_dir: Path) -> Path:
    """Where the JSON schema of ``obj``'s kind would be: ``<group>/<kind>_<version>.json`` under ``schemas_dir``."""
    group, _, version = obj.api_version.rpartition("/")
    return schemas_dir / (group or "core") / f"{obj.kind.lower()}_{version}.json"


def validate_object(
    obj: RenderedObject, schemas_dir: Path = CRD_SCHEMAS_DIR, kubernetes_version: str = KUBERNETES_VERSION
) -> list[str]:
    """The schema violations of ``obj``, one message each (empty when it is valid)."""
    custom = crd_schema_path(obj, schemas_dir)
    if custom.is_file():
        return _validate_custom(obj, custom)
    return _validate_builtin(obj, custom, kubernetes_version)


def _validate_builtin(obj: RenderedObject, custom: Path, kubernetes_version: str) -> list[str]:
    try:
        from kubernetes_validate import utils as kubernetes_validate
    except ImportError:
        raise SchemaError(
            "kubernetes-validate is not installed: it is a development dependency, run `make install`"
        ) from None
    supported = sorted({v.rsplit(".", 1)[0] for v in kubernetes_validate.all_versions()}, key=_version_key)
    if kubernetes_version.removeprefix("v") not in supported:
        raise SchemaError(
            f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}; "
            f"pick one of {', '.join(supported)} (--kubernetes-version, or KUBERNETES_VERSION in {__name__})"
        )
    try:
        kubernetes_validate.validate(obj.manifest, kubernetes_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [
            f"no schema for {obj.api_version} {obj.kind}: not a built-in kind of Kubernetes {kubernetes_version}, "
            f"and no custom resource schema at {custom}; add its published JSON schema there"
        ]
    except kubernetes_validate.ValidationError as exc:
        return [f"{_path(exc.absolute_path)}: {exc.message} (Kubernetes {kubernetes_version} schema)"]
    return []


def _validate_custom(obj: RenderedObject, schema_file: Path) -> list[str]:
    from jsonschema import Draft202012Validator

    schema = _load_schema(schema_file)
    errors = [
        f"{_path(e.absolute_path)}: {e.message} ({schema_file.name})"
        for e in sorted(Draft202012Validator(schema).iter_errors(obj.manifest), key=lambda e: list(e.absolute_path))
    ]
    listed = schema.get("properties", {})
    known = set(listed) | _OBJECT_FIELDS
    errors += [
        f"{key}: unknown top-level field (known: {', '.join(sorted(known))})"
        for key in obj.manifest
        if listed and key not in known
    ]
    return errors


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@functools.cache
def _load_schema(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read the JSON schema: {exc}") from None
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: a JSON schema must be an object")
    return schema


def _path(parts: Any) -> str:
    """A JSON path as ``spec.template.spec.containers[0].image`` (``<object>`` for the top level)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<object>"
