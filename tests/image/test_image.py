"""The release's container path for real: build the bento's image, push it, run it by digest, smoke-test it.

A temporary copy of the template is trained (``ensure-data`` + ``dvc repro``), its bento built as ``model-v1``
and its container context exported, as the release's publish job does. The image is built by a real Docker
engine (tests/support/docker_engine.py) with BuildKit, pushed to a local registry, removed locally and then run
by digest with ``--pull always``, through the same ``make smoke-image`` the release runs. Run with
``make image-test`` (the first run bootstraps the base image, later runs reuse build/image-test/).

The container is also run with authentication on, as the Kubernetes overlays run it: the tokens file mounted
read-only at /etc/gitops-ml/tokens/ (where the Secret goes), or the tokens in GITOPS_ML_TOKENS; the same
roles-by-endpoints matrix and malformed headers as tests/serving/test_auth_http.py are checked against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from gitops_ml.config import load_params
from gitops_ml.model_call.compiled import TOLERANCE
from gitops_ml.model_io import load_model
from gitops_ml.pipeline.features import model_frame
from gitops_ml.serving.schema import example_record
from tests.support.auth_matrix import (
    AuthTokens,
    leaked_tokens,
    make_tokens,
    malformed_header_failures,
    matrix_failures,
)
from tests.support.docker_engine import DockerEngine, LocalRegistry, ensure_base_image, progress, push_by_digest
from tests.support.processes import free_port
from tests.support.projects import project_env, run

pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]

MODEL_VERSION = "model-v1"
TOKENS_MOUNT = "/etc/gitops-ml/tokens"  # where the overlays mount the Secret gitops-ml-tokens
BUILD_TIMEOUT_S = 1800
READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class PushedImage:
    """The bento's image in the local registry, absent from the engine's local images after the push."""

    ref: str  # <registry>/<repository>@sha256:<digest>
    project: Path
    env: dict[str, str]  # environment for commands in the project (BentoML home, docker client, model version)


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerEngine]:
    """A private dockerd for this module (data root kept in build/image-test between runs)."""
    with DockerEngine() as running:
        yield running


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    """A local registry on 127.0.0.1 for this module."""
    with LocalRegistry() as running:
        yield running


@pytest.fixture(scope="module")
def image_project(pipeline_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the trained template (building the bento writes reports/)."""
    dest = tmp_path_factory.mktemp("image") / "project"
    shutil.copytree(pipeline_project, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def image(
    image_project: Path, engine: DockerEngine, registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PushedImage]:
    """Build the bento (model-v1), export its context, build and push the image, then remove it locally."""
    env = project_env(
        {"BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml-home")), "BENTOML_DO_NOT_TRACK": "True"}
        | {"MODEL_VERSION": MODEL_VERSION, "DOCKER": engine.docker_client}
        | engine.env()
    )
    if uv := os.environ.get("UV"):  # set by `uv run`: `bentoml build` calls uv from PATH, which may not have it
        env["PATH"] = f"{env['PATH']}{os.pathsep}{Path(uv).parent}"
    progress("building the bento and exporting its container context")
    tag = run(["gitops-ml", "build-bento"], image_project, env=env).stdout.strip().splitlines()[-1]
    assert tag == f"{load_params(image_project / 'params.yaml').project.name}:{MODEL_VERSION}"  # the project's name
    context = tmp_path_factory.mktemp("context") / "bento"
    dockerfile = run(["gitops-ml", "bento-context", "--out", str(context)], image_project, env=env).stdout
    dockerfile = dockerfile.strip().splitlines()[-1]

    ensure_base_image(engine)
    local_tag = "gitops-ml-service:image-test"
    progress(f"docker build {local_tag} (installs the bento's packages from PyPI)")
    engine.docker(
        "build", "--pull=false", "--network", "host", "-f", dockerfile, "-t", local_tag, str(context),
        timeout=BUILD_TIMEOUT_S,
    )  # fmt: skip
    image_id = engine.docker("image", "inspect", "--format", "{{.Id}}", local_tag).stdout.strip()
    ref = push_by_digest(engine, local_tag, f"{registry.address}/image-test/gitops-ml-service")
    engine.docker("rmi", local_tag)
    for name in (ref, image_id):
        absent = engine.docker("image", "inspect", name, check=False)
        assert absent.returncode != 0, f"{name} is still a local image after docker rmi: a run would not prove the push"
    yield PushedImage(ref=ref, project=image_project, env=env)
    leftovers = engine.docker("ps", "--all", "--quiet").stdout.split()
    if leftovers:
        engine.docker("rm", "--force", *leftovers)
    engine.docker("rmi", ref, check=False)  # the pulled copy; the kept data root should not grow with every run


def smoke_image(image: PushedImage, **env: str) -> subprocess.CompletedProcess:
    """`make smoke-image` in the project, with the test's environment plus ``env``; output captured."""
    return subprocess.run(
        ["make", "-o", "install", "smoke-image", "RUN="],
        cwd=image.project,
        env=image.env | {"IMAGE_REF": image.ref, "SMOKE_PORT": str(free_port())} | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@contextlib.contextmanager
def running_container(engine: DockerEngine, ref: str, *options: str) -> Iterator[tuple[str, str]]:
    """``docker run --pull always --network host -e PORT=<free port> [options] ref``; yields (container id, URL)."""
    port = free_port()
    started = engine.docker(
        "run", "--detach", "--pull", "always", "--network", "host", "-e", f"PORT={port}", *options, ref
    )
    container = started.stdout.strip().splitlines()[-1]
    try:
        yield container, f"http://127.0.0.1:{port}"
    finally:
        engine.docker("rm", "--force", container, check=False)


def wait_ready(url: str, engine: DockerEngine, container: str) -> None:
    """Poll ``/readyz`` until 200; fail with the container's log if it never is."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            logs = engine.docker("logs", container, check=False)
            pytest.fail(f"{url}/readyz not 200 after {READY_TIMEOUT_S}s:\n{(logs.stdout + logs.stderr)[-4000:]}")
        time.sleep(0.5)


def test_smoke_image_pulls_the_digest_and_passes(image: PushedImage, engine: DockerEngine) -> None:
    registry, repository = image.ref.split("@")[0].split("/", 1)
    tags = httpx.get(f"http://{registry}/v2/{repository}/tags/list", timeout=10)
    assert tags.status_code == 404 or not tags.json().get("tags"), tags.text  # only the digest names the image
    result = smoke_image(image)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"smoke test passed: {MODEL_VERSION}: probability" in result.stdout
    assert f"Pulling from {repository}" in output  # fetched from the registry, not found locally
    local = json.loads(engine.docker("image", "inspect", image.ref).stdout)[0]
    assert image.ref in local["RepoDigests"]
    assert not engine.docker("ps", "--all", "--quiet", "--filter", "name=gitops-ml-smoke").stdout.strip()


def test_container_runs_as_a_non_root_user(image: PushedImage, engine: DockerEngine) -> None:
    with running_container(engine, image.ref) as (container, _url):
        inspect = json.loads(engine.docker("inspect", container).stdout)[0]
        assert inspect["Config"]["Image"] == image.ref  # the container was created from the digest
        assert inspect["Config"]["User"] not in {"", "root", "0"}
        uid = engine.docker("exec", container, "id", "-u").stdout.strip()
        assert uid.isdigit()
        assert int(uid) != 0


def test_container_serves_the_trained_model(image: PushedImage, engine: DockerEngine) -> None:
    params = load_params(image.project / "params.yaml")
    record = example_record(params.schema)
    model = load_model(image.project / "models" / "model.skops")
    expected = float(model.predict_proba(model_frame(pd.DataFrame([record]), params.schema))[0, 1])
    with running_container(engine, image.ref) as (container, url):
        wait_ready(url, engine, container)
        answer = httpx.post(f"{url}/predict", json={"records": [record]}, timeout=30)
        logs = engine.docker("logs", container)
    assert answer.status_code == 200, answer.text
    warnings = [line for line in (logs.stdout + logs.stderr).splitlines() if "authentication is off" in line]
    assert len(warnings) == 1, logs.stdout + logs.stderr  # auth is off by default, said once
    body = answer.json()
    assert body["model_version"] == MODEL_VERSION
    assert body["predictions"][0]["probability"] == pytest.approx(expected, abs=TOLERANCE)
    # The image carries the compiled path's engine: ONNX Runtime serves, not the generic fallback.
    paths = [line for line in (logs.stdout + logs.stderr).splitlines() if "scoring path: " in line]
    assert paths and all("scoring path: fast: " in line for line in paths), paths


def test_smoke_image_fails_on_the_wrong_model_version(image: PushedImage, engine: DockerEngine) -> None:
    result = smoke_image(image, MODEL_VERSION="model-v2")
    assert result.returncode != 0
    assert f"the service runs model '{MODEL_VERSION}', expected 'model-v2'" in result.stdout + result.stderr
    assert "last log lines of gitops-ml-smoke" in result.stderr  # the container's log is shown on failure
    assert not engine.docker("ps", "--all", "--quiet", "--filter", "name=gitops-ml-smoke").stdout.strip()


def test_smoke_image_refuses_a_reference_that_is_not_a_digest(image: PushedImage) -> None:
    result = smoke_image(image, IMAGE_REF=image.ref.split("@")[0] + ":latest")
    assert result.returncode != 0
    assert "IMAGE_REF must be <image>@sha256:<digest>" in result.stderr


@pytest.fixture
def tokens(tmp_path: Path) -> AuthTokens:
    """One token per role in ``<tmp>/tokens/tokens`` (the folder is mounted as the Secret would be)."""
    return make_tokens(tmp_path / "tokens")


def predict_body(image: PushedImage) -> dict[str, object]:
    return {"records": [example_record(load_params(image.project / "params.yaml").schema)]}


def test_container_enforces_roles_with_a_mounted_tokens_file(
    image: PushedImage, engine: DockerEngine, tokens: AuthTokens
) -> None:
    options = (
        "-e", "GITOPS_ML_AUTH=on",
        "-e", f"GITOPS_ML_TOKENS_FILE={TOKENS_MOUNT}/tokens",
        "-v", f"{tokens.file.parent}:{TOKENS_MOUNT}:ro",
    )  # fmt: skip
    body = predict_body(image)
    with running_container(engine, image.ref, *options) as (container, url):
        wait_ready(url, engine, container)  # the probes need no token
        matrix = matrix_failures(url, tokens, body)
        malformed = malformed_header_failures(url, tokens, body)
        logs = engine.docker("logs", container)
    output = logs.stdout + logs.stderr
    assert matrix == []
    assert malformed == []
    assert leaked_tokens(output, tokens) == []
    assert "status=401" in output  # the denied requests were logged, without their tokens
    assert "authentication is off" not in output


def test_container_takes_tokens_from_the_environment(
    image: PushedImage, engine: DockerEngine, tokens: AuthTokens
) -> None:
    inline = tokens.file.read_text(encoding="utf-8")
    body = predict_body(image)
    with running_container(engine, image.ref, "-e", "GITOPS_ML_AUTH=on", "-e", f"GITOPS_ML_TOKENS={inline}") as (
        container,
        url,
    ):
        wait_ready(url, engine, container)
        anonymous = httpx.post(f"{url}/predict", json=body, timeout=30)
        metrics = httpx.get(f"{url}/metrics", headers=tokens.header("metrics"), timeout=30)
        predict = httpx.post(f"{url}/predict", json=body, headers=tokens.header("predict"), timeout=30)
    assert (anonymous.status_code, metrics.status_code, predict.status_code) == (401, 200, 200)


def test_container_refuses_to_start_with_a_bad_tokens_file(
    image: PushedImage, engine: DockerEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "secret"
    folder.mkdir(mode=0o755)
    (folder / "tokens").write_text(f"predict sha256:{'0' * 64}\nwriter sha256:{'1' * 64}\n", encoding="utf-8")
    (folder / "tokens").chmod(0o644)
    result = engine.docker(
        "run", "--rm", "--pull", "always", "--network", "host", "-e", f"PORT={free_port()}",
        "-e", "GITOPS_ML_AUTH=on", "-e", f"GITOPS_ML_TOKENS_FILE={TOKENS_MOUNT}/tokens",
        "-v", f"{folder}:{TOKENS_MOUNT}:ro", image.ref,
        check=False, timeout=READY_TIMEOUT_S,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert (
        f"error: tokens file {TOKENS_MOUNT}/tokens (GITOPS_ML_TOKENS_FILE) line 2: unknown role (the first field)"
        in output
    )
    assert "Traceback" not in output
