"""Rendering with kubectl kustomize: which kubectl, the source file of each object, clear render errors."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_ml.deploy.render import KUBECTL_ENV, RenderError, find_kubectl, kustomization_dirs, render

VENV_KUBECTL = Path(sys.prefix) / "bin" / "kubectl"


def _executable(directory: Path, name: str = "kubectl") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _system_kubectl() -> str | None:
    outside = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and Path(d).resolve() != VENV_KUBECTL.parent.resolve()
    ]
    return shutil.which("kubectl", path=os.pathsep.join(outside))


def test_a_kubectl_outside_the_virtualenv_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    system = _executable(tmp_path / "system")
    monkeypatch.delenv(KUBECTL_ENV, raising=False)
    monkeypatch.setenv("PATH", f"{VENV_KUBECTL.parent}:{system.parent}")
    assert find_kubectl() == system


def test_the_virtualenv_kubectl_when_the_system_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(KUBECTL_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_kubectl() == VENV_KUBECTL


def test_kubectl_env_wins_and_a_wrong_one_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    chosen = _executable(tmp_path / "chosen")
    monkeypatch.setenv(KUBECTL_ENV, str(chosen))
    assert find_kubectl() == chosen
    monkeypatch.setenv(KUBECTL_ENV, str(tmp_path / "missing"))
    with pytest.raises(RenderError, match=f"{KUBECTL_ENV}=.*missing is not an executable"):
        find_kubectl()


def test_no_kubectl_anywhere_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(KUBECTL_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "no-venv"))
    with pytest.raises(RenderError, match="make install"):
        find_kubectl()


def _kubectls() -> list:
    found = [pytest.param(VENV_KUBECTL, id="virtualenv")]
    system = _system_kubectl()
    found.append(
        pytest.param(Path(system), id="system")
        if system
        else pytest.param(None, id="system", marks=pytest.mark.skip(reason="no kubectl on PATH outside .venv"))
    )
    return found


@pytest.mark.parametrize("kubectl", _kubectls())
def test_render_names_the_file_of_every_object(deploy_project: Path, kubectl: Path):
    objects = render(deploy_project / "deploy" / "overlays" / "staging", root=deploy_project, kubectl=kubectl)
    sources = {o.describe() for o in objects}
    assert "Deployment gitops-ml-staging/gitops-ml-service (deploy/base/deployment.yaml)" in sources
    assert "Ingress gitops-ml-staging/gitops-ml-service (deploy/overlays/staging/ingress.yaml)" in sources
    assert "Namespace gitops-ml-staging (deploy/overlays/staging/namespace.yaml)" in sources
    plain = subprocess.run(
        [str(kubectl), "kustomize", str(deploy_project / "deploy" / "overlays" / "staging")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "config.kubernetes.io/origin" not in plain
    assert all("config.kubernetes.io/origin" not in str(o.manifest) for o in objects)


def test_system_and_virtualenv_kubectl_render_the_same(deploy_project: Path):
    system = _system_kubectl()
    if system is None:
        pytest.skip("no kubectl on PATH outside .venv to compare with")
    overlay = deploy_project / "deploy" / "overlays" / "production"
    both = [render(overlay, root=deploy_project, kubectl=Path(k)) for k in (system, VENV_KUBECTL)]
    assert [o.manifest for o in both[0]] == [o.manifest for o in both[1]]


def test_a_kustomization_that_does_not_render_is_named(deploy_project: Path):
    base = deploy_project / "deploy" / "base"
    (base / "pdb.yaml").unlink()
    with pytest.raises(RenderError, match=r"deploy/base: kubectl kustomize failed:\n.*pdb\.yaml"):
        render(base, root=deploy_project)


def test_components_are_not_render_targets(deploy_project: Path):
    targets = {str(p.relative_to(deploy_project)) for p in kustomization_dirs(deploy_project / "deploy")}
    assert {
        "deploy/base",
        "deploy/overlays/staging",
        "deploy/overlays/production",
        "deploy/argocd",
        "deploy/flux",
    } <= targets
    assert "deploy/components/auth" not in targets
