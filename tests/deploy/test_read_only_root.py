"""The pod's writable paths are enough: the real bento serves with everything else read-only.

The Deployment runs with ``readOnlyRootFilesystem: true`` and emptyDir volumes where BentoML writes at serve
time. This test takes those paths (and the environment variables that point into them) from the rendered
staging overlay, makes every mount of this machine read-only in a private mount namespace, mounts a tmpfs at
each of the pod's writable paths, and serves the bento's container build context (exactly what the image holds
under /home/bentoml/bento) with ``bentoml serve``; /readyz and one /predict must succeed. A path the manifests
forgot makes BentoML fail with "Read-only file system". Needs root (for the mount namespace), as ``make
image-test`` does; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gitops_ml.config import load_params
from gitops_ml.deploy.render import render
from tests.support.processes import free_port, stop
from tests.support.projects import ROOT, project_env, run

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 120
WRITABLE_ENV = ("BENTOML_HOME", "GITOPS_ML_PREDICTION_LOG", "TMPDIR")
NOT_WRITABLE = 97

# Runs inside `unshare --mount`: $1 is the simulated container root, then the writable paths; the command
# to run follows `--`. Kernel filesystems (/proc, /sys, /dev with its /dev/shm) keep their flags, as in a pod.
SANDBOX = r"""
set -eu
root=$1; shift
writable=""
while [ "$1" != "--" ]; do writable="$writable $1"; shift; done
shift
findmnt -rn -o TARGET | while read -r target; do
  case "$target" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$target" 2>/dev/null || true
done
for path in $writable; do mount -t tmpfs -o mode=1777,size=256m tmpfs "$root$path"; done
for probe in "$root/home/bentoml/bento" "$root/home/bentoml" "$(dirname "$(command -v python)")" /tmp; do
  if touch "$probe/.rw-probe" 2>/dev/null; then echo "still writable: $probe" >&2; exit 97; fi
done
exec "$@"
"""


@pytest.fixture(scope="module")
def bento_context(pipeline_project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The container build context of the trained model's bento (what the image copies to /home/bentoml/bento)."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("findmnt"):
        pytest.skip("needs root, unshare and findmnt for a read-only mount namespace (as make image-test)")
    project = tmp_path_factory.mktemp("ro-bento") / "project"
    shutil.copytree(pipeline_project, project, symlinks=True)
    env = project_env({"BENTOML_HOME": str(project.parent / "bentoml-home"), "BENTOML_DO_NOT_TRACK": "True"})
    tag = run(["gitops-ml", "build-bento"], project, env=env).stdout.strip().splitlines()[-1]
    context = project.parent / "context"
    run(["gitops-ml", "bento-context", "--out", str(context)], project, env=env)
    assert tag.split(":")[0] == load_params(project / "params.yaml").project.name.lower()  # the project's bento
    return context, env


def _pod_writable_paths() -> tuple[list[str], dict[str, str]]:
    """The emptyDir mount paths of the staging Deployment's container, and its env vars that point into them."""
    deployment = next(
        o.manifest for o in render(ROOT / "deploy" / "overlays" / "staging", root=ROOT) if o.kind == "Deployment"
    )
    pod = deployment["spec"]["template"]["spec"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    container = pod["containers"][0]
    paths = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs]
    env = {e["name"]: e["value"] for e in container.get("env", []) if e["name"] in WRITABLE_ENV and "value" in e}
    return paths, env


def test_the_bento_serves_with_only_the_pods_writable_paths(bento_context, tmp_path: Path):
    context, build_env = bento_context
    paths, pod_env = _pod_writable_paths()
    assert "/tmp" in paths and "BENTOML_HOME" in pod_env, "the Deployment lost its emptyDir for /tmp or BENTOML_HOME"

    root = tmp_path / "container"
    bento = root / "home" / "bentoml" / "bento"
    shutil.copytree(context, bento)
    for path in paths:
        (root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
    # Inside the sandbox the pod's paths live under `root`: /tmp is reached through TMPDIR, the rest through the
    # environment variables the Deployment sets, rewritten to the same place under `root`.
    env = {k: v for k, v in build_env.items() if k != "BENTOML_HOME"}
    env |= {name: f"{root}{value}" for name, value in pod_env.items()}
    env |= {"TMPDIR": f"{root}/tmp", "HOME": str(root / "home" / "bentoml"), "BENTO_PATH": str(bento)}
    env |= {"BENTOML_CONTAINERIZED": "true", "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    # the service would refuse /predict without a token once authentication is on: this test is about the disk
    env.pop("GITOPS_ML_AUTH", None)

    port = free_port()
    log = tmp_path / "serve.log"
    command = ["bentoml", "serve", str(bento), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                SANDBOX,
                "sandbox",
                str(root),
                *paths,
                "--",
                *command,
            ],
            cwd=bento,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                reason = (
                    "the sandbox could not make this machine read-only"
                    if process.returncode == NOT_WRITABLE
                    else "bentoml serve exited"
                )
                pytest.fail(f"{reason} ({process.returncode}):\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after {READY_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        smoke = run(
            ["gitops-ml", "smoke-test", "--url", f"http://127.0.0.1:{port}", "--timeout", "10"],
            context.parent / "project",
            env=build_env,
        )
        assert "smoke test passed" in smoke.stdout
        assert "Read-only file system" not in log.read_text()
    finally:
        stop(process)
