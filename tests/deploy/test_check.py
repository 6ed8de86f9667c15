"""check_deploy: every kustomization rendered and validated, overlays also policy-checked, all problems listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml.deploy.check import check_deploy
from gitops_ml.deploy.overlay import UNRELEASED, DeployedImage, write_overlay
from gitops_ml.deploy.render import RenderError

RELEASE = DeployedImage("ghcr.io/acme/fraud-model", "sha256:" + "d" * 64, "model-v7")


def _by_dir(results, root: Path) -> dict:
    return {str(r.directory.relative_to(root)): r for r in results}


def test_the_template_passes(deploy_project: Path):
    results = _by_dir(
        check_deploy(deploy_project / "deploy", deploy_project / "tests/deploy/schemas", root=deploy_project),
        deploy_project,
    )
    assert {
        "deploy/base",
        "deploy/argocd",
        "deploy/flux",
        "deploy/overlays/staging",
        "deploy/overlays/production",
        "deploy/runners",
        "deploy/dask",
    } <= set(results)
    assert all(r.problems == [] and r.objects > 0 for r in results.values())
    assert results["deploy/overlays/staging"].is_overlay
    assert not results["deploy/base"].is_overlay
    assert results["deploy/base"].deployed == ""


def test_an_overlay_reports_what_it_deploys(deploy_project: Path):
    staging = deploy_project / "deploy" / "overlays" / "staging"
    write_overlay(staging, UNRELEASED)
    write_overlay(deploy_project / "deploy" / "overlays" / "production", RELEASE)
    results = _by_dir(
        check_deploy(deploy_project / "deploy", deploy_project / "tests/deploy/schemas", root=deploy_project),
        deploy_project,
    )
    assert results["deploy/overlays/staging"].deployed.startswith("nothing deployed yet")
    assert results["deploy/overlays/production"].deployed == f"model-v7 ({RELEASE.reference})"
    assert results["deploy/overlays/production"].problems == []


def test_every_problem_is_listed_with_object_and_file(deploy_project: Path):
    deploy = deploy_project / "deploy"
    deployment = deploy / "base" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("revisionHistoryLimit: 5", "revisionHistoryLimitt: 5"))
    ingress = deploy / "overlays" / "production" / "ingress.yaml"
    ingress.write_text(ingress.read_text().replace("  tls:\n", "  tlsOff:\n"))
    (deploy / "overlays" / "staging" / "ingress.yaml").unlink()

    results = _by_dir(
        check_deploy(deploy, deploy_project / "tests/deploy/schemas", root=deploy_project), deploy_project
    )

    (staging,) = results["deploy/overlays/staging"].problems
    assert "deploy/overlays/staging: kubectl kustomize failed" in staging
    production = results["deploy/overlays/production"].problems
    assert any(
        p.startswith("Deployment gitops-ml-production/gitops-ml-service (deploy/base/deployment.yaml): spec: ")
        and "revisionHistoryLimitt" in p
        for p in production
    )
    assert any(
        p.startswith("Ingress gitops-ml-production/gitops-ml-service (deploy/overlays/production/ingress.yaml)")
        and "tlsOff" in p
        for p in production
    )
    assert any("has no tls entry" in p and "[ingress-tls]" in p for p in production)
    assert results["deploy/argocd"].problems == []


def test_missing_directories_are_named(tmp_path: Path):
    with pytest.raises(RenderError, match="no such directory"):
        check_deploy(tmp_path / "deploy", tmp_path)
    (tmp_path / "deploy").mkdir()
    with pytest.raises(RenderError, match="custom resource schemas"):
        check_deploy(tmp_path / "deploy", tmp_path / "schemas")
    with pytest.raises(RenderError, match=r"no kustomization\.yaml found"):
        check_deploy(tmp_path / "deploy", tmp_path)
