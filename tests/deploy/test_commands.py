"""`gitops-ml deploy-check` as `make deploy-check` runs it: exit 0 on the template, 1 with every problem named."""

from __future__ import annotations

import re
from pathlib import Path

from gitops_ml.deploy.schemas import KUBERNETES_VERSION
from tests.support.projects import ROOT, run


def test_deploy_check_passes_on_the_template(deploy_project: Path):
    result = run(["gitops-ml", "deploy-check"], deploy_project)
    assert f"schemas of Kubernetes {KUBERNETES_VERSION}" in result.stderr
    for target in ("deploy/base", "deploy/argocd", "deploy/flux"):
        assert f"ok {target}: " in result.stdout
    for env in ("staging", "production"):
        assert re.search(rf"ok deploy/overlays/{env}: \d+ objects, schemas and policies", result.stdout)


def test_deploy_check_fails_naming_file_object_and_rule(deploy_project: Path):
    deployment = deploy_project / "deploy" / "base" / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    )
    result = run(["gitops-ml", "deploy-check"], deploy_project, check=False)
    assert result.returncode == 1
    assert "FAIL deploy/overlays/staging" in result.stdout
    assert (
        "Deployment gitops-ml-staging/gitops-ml-service (deploy/base/deployment.yaml) container 'service': "
        "securityContext.readOnlyRootFilesystem is not true [non-root]"
    ) in result.stderr
    assert "error: 2 problem(s) in deploy/overlays/production, deploy/overlays/staging" in result.stderr
    assert "Traceback" not in result.stderr


def test_deploy_check_refuses_an_unsupported_kubernetes_version(deploy_project: Path):
    result = run(["gitops-ml", "deploy-check", "--kubernetes-version", "1.12"], deploy_project, check=False)
    assert result.returncode == 1
    assert "no schemas for Kubernetes 1.12" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_test_runs_deploy_check():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bdeploy-check\b", makefile, re.MULTILINE)
    assert re.search(r"^deploy-check: .*\n\t\$\(RUN\) gitops-ml deploy-check", makefile, re.MULTILINE)
