"""Strict schema validation: built-in kinds against Kubernetes' schemas, custom resources against published ones."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
from kubernetes_validate import utils as kubernetes_validate

from gitops_ml.deploy.render import RenderedObject, kustomization_dirs, render
from gitops_ml.deploy.schemas import (
    CRD_SCHEMAS_DIR,
    KUBERNETES_VERSION,
    SchemaError,
    crd_schema_path,
    validate_object,
)
from tests.deploy.conftest import DEPLOY, SCHEMAS
from tests.support.projects import ROOT


@pytest.fixture(scope="module")
def staging() -> dict[str, RenderedObject]:
    """The staging overlay as rendered, by kind."""
    return {o.kind: o for o in render(DEPLOY / "overlays" / "staging", root=ROOT)}


def _changed(obj: RenderedObject, change) -> RenderedObject:
    manifest = copy.deepcopy(obj.manifest)
    change(manifest)
    return RenderedObject(manifest, obj.source)


def test_every_rendered_object_of_the_template_validates():
    for directory in kustomization_dirs(DEPLOY):
        for obj in render(directory, root=ROOT):
            assert validate_object(obj, SCHEMAS) == [], obj.describe()


def test_the_pinned_kubernetes_version_has_schemas():
    assert KUBERNETES_VERSION in {v.rsplit(".", 1)[0] for v in kubernetes_validate.all_versions()}
    assert ROOT / CRD_SCHEMAS_DIR == SCHEMAS


@pytest.mark.parametrize("version", ["1.20", "1.99", "latest"])
def test_an_unsupported_kubernetes_version_is_refused(staging, version):
    with pytest.raises(SchemaError, match=rf"no schemas for Kubernetes {version}; pick one of 1\.\d+, .*1\.32"):
        validate_object(staging["Deployment"], SCHEMAS, version)


def _container(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (
            "Deployment",
            lambda m: _container(m).update(imagePullPolicyy="Always"),
            "spec.template.spec.containers[0]: Additional properties are not allowed ('imagePullPolicyy'",
        ),
        ("Deployment", lambda m: m["spec"].update(replicas="two"), "spec.replicas: 'two' is not of type 'integer'"),
        ("Service", lambda m: m["spec"]["ports"][0].pop("port"), "spec.ports[0]: 'port' is a required property"),
        (
            "NetworkPolicy",
            lambda m: m["spec"].update(podSelectors={}),
            "spec: Additional properties are not allowed ('podSelectors'",
        ),
    ],
)
def test_a_builtin_object_breaking_its_schema_is_named(staging, kind, change, message):
    problems = validate_object(_changed(staging[kind], change), SCHEMAS)
    assert len(problems) == 1
    assert problems[0].startswith(message)
    assert f"(Kubernetes {KUBERNETES_VERSION} schema)" in problems[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["spec"]["endpoints"][0].update(bearerTokenSecrett={}),
            "spec.endpoints[0]: Additional properties are not allowed ('bearerTokenSecrett'",
        ),
        (lambda m: m["spec"]["endpoints"][0].update(interval=30), "spec.endpoints[0].interval: 30 is not of type"),
        (lambda m: m.pop("spec"), "<object>: 'spec' is a required property"),
        (lambda m: m.update(spce={}), "spce: unknown top-level field"),
    ],
)
def test_a_custom_resource_breaking_its_published_schema_is_named(staging, change, message):
    problems = validate_object(_changed(staging["ServiceMonitor"], change), SCHEMAS)
    assert any(p.startswith(message) for p in problems), problems


def test_argo_and_flux_objects_are_checked_against_their_schemas():
    application = render(DEPLOY / "argocd", root=ROOT)[0]
    broken = _changed(application, lambda m: m["spec"]["syncPolicy"]["automated"].update(prune="yes"))
    assert any(
        "spec.syncPolicy.automated.prune: 'yes' is not of type 'boolean'" in p for p in validate_object(broken, SCHEMAS)
    )
    flux = {o.kind: o for o in render(DEPLOY / "flux", root=ROOT)}
    assert any(
        "spec: 'sourceRef' is a required property" in p
        for p in validate_object(_changed(flux["Kustomization"], lambda m: m["spec"].pop("sourceRef")), SCHEMAS)
    )
    assert any(
        "spec.ref: Additional properties are not allowed ('branchh'" in p
        for p in validate_object(
            _changed(flux["GitRepository"], lambda m: m["spec"]["ref"].update(branchh="x")), SCHEMAS
        )
    )


def test_apiversion_kind_and_metadata_are_known_even_where_a_crd_schema_omits_them(tmp_path: Path):
    schema = tmp_path / "example.com" / "widget_v1.json"
    schema.parent.mkdir()
    schema.write_text('{"type": "object", "properties": {"spec": {"type": "object"}}, "required": ["spec"]}')
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert validate_object(RenderedObject(widget, "w.yaml"), tmp_path) == []
    (problem,) = validate_object(RenderedObject(widget | {"spce": {}}, "w.yaml"), tmp_path)
    assert problem == "spce: unknown top-level field (known: apiVersion, kind, metadata, spec)"


def test_a_kind_without_a_schema_is_an_error_not_a_pass(tmp_path: Path):
    obj = RenderedObject({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "w.yaml")
    (problem,) = validate_object(obj, SCHEMAS)
    assert "no schema for example.com/v1 Widget" in problem
    assert str(SCHEMAS / "example.com" / "widget_v1.json") in problem
    assert crd_schema_path(obj, tmp_path) == tmp_path / "example.com" / "widget_v1.json"


def test_custom_resource_schemas_are_the_published_files():
    sums = (SCHEMAS / "SHA256SUMS").read_text().split("\n")
    recorded = {line.split()[1]: line.split()[0] for line in sums if line.strip()}
    present = {str(p.relative_to(SCHEMAS)) for p in SCHEMAS.rglob("*.json")}
    assert set(recorded) == present
    for name, digest in recorded.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, f"{name} was edited"
