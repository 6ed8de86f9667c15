"""Model versions from git, and the model store import: labels, params copy, refusal of untrusted files; the
service's message when the model is not in the store BentoML looks in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gitops_ml.io import read_json
from gitops_ml.serving.store import (
    MODEL_NAME,
    ModelStoreError,
    missing_model_message,
    model_version,
    sanitize_version,
)
from tests.support.fixture_project import ROOT
from tests.support.processes import free_port
from tests.support.projects import project_env, run
from tests.support.serving import serve


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("model-v3", "model-v3"),
        ("Model-V12", "model-v12"),
        ("release/2026 11", "release-2026-11"),
        ("-v1-", "v1"),
        ("a" * 80, "a" * 63),
        ("dev-abc1234+dirty", "dev-abc1234-dirty"),
    ],
)
def test_sanitize_version_makes_valid_bentoml_versions(raw: str, expected: str) -> None:
    assert sanitize_version(raw) == expected


def test_a_version_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(ModelStoreError, match="MODEL_VERSION"):
        sanitize_version("---")


def test_model_version_follows_git(tmp_path: Path) -> None:
    assert model_version(tmp_path) == "dev"  # not a repository
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    (tmp_path / "file").write_text("1")
    run(["git", "add", "file"], tmp_path)
    run(["git", "commit", "-qm", "one"], tmp_path)
    sha = run(["git", "rev-parse", "--short=7", "HEAD"], tmp_path).stdout.strip()
    assert model_version(tmp_path) == f"dev-{sha}"
    run(["git", "tag", "model-v3"], tmp_path)
    run(["git", "tag", "unrelated-tag"], tmp_path)
    assert model_version(tmp_path) == "model-v3"
    assert model_version(tmp_path, "Model-V4") == "model-v4"
    (tmp_path / "file").write_text("2")
    run(["git", "commit", "-qam", "two"], tmp_path)
    assert model_version(tmp_path).startswith("dev-")  # the tag is on the previous commit


def test_model_version_command_reads_the_environment(tmp_path: Path) -> None:
    result = run(["gitops-ml", "model-version"], tmp_path, env=project_env({"MODEL_VERSION": "model-v9"}))
    assert result.stdout.strip().splitlines()[-1] == "model-v9"


@pytest.mark.slow
def test_import_model_labels_the_entry_and_stores_its_params(
    service_project: Path, serving_env: dict[str, str]
) -> None:
    result = run(["gitops-ml", "import-model", "--version", "model-v7"], service_project, env=serving_env)
    assert result.stdout.strip().splitlines()[-1] == f"{MODEL_NAME}:model-v7"
    entry = Path(serving_env["BENTOML_HOME"]) / "models" / MODEL_NAME / "model-v7"
    info = yaml.safe_load((entry / "model.yaml").read_text())
    labels = info["labels"]
    head = run(["git", "rev-parse", "HEAD"], service_project).stdout.strip()
    metrics = read_json(service_project / "reports" / "metrics.json")
    assert labels["model_version"] == "model-v7"
    assert labels["git_commit"] == head
    assert labels["data_md5"] == read_json(service_project / "reports" / "data_summary.json")["md5"]
    assert float(labels["metric_average_precision"]) == pytest.approx(metrics["average_precision"], rel=1e-5)
    assert float(labels["metric_roc_auc"]) == pytest.approx(metrics["roc_auc"], rel=1e-5)
    assert (entry / "model.skops").read_bytes() == (service_project / "models" / "model.skops").read_bytes()
    assert (entry / "params.yaml").read_text() == (service_project / "params.yaml").read_text()
    assert not list(entry.rglob("*.pkl"))  # nothing pickled alongside


@pytest.mark.slow
def test_import_refuses_a_file_that_is_not_a_trusted_skops_model(
    service_project: Path, serving_env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(service_project, project, symlinks=True)
    (project / "models" / "model.skops").write_bytes(b"\x80\x04K\x01.")  # a pickle, not a skops archive
    result = run(["gitops-ml", "import-model", "--version", "tampered"], project, env=serving_env, check=False)
    assert result.returncode == 1
    assert "not a readable skops model file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (Path(serving_env["BENTOML_HOME"]) / "models" / MODEL_NAME / "tampered").exists()


def test_missing_model_outside_a_project_names_the_store_and_the_way_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    said = missing_model_message(MODEL_NAME, "latest", tmp_path)
    assert (
        f"model store {tmp_path / 'home' / 'bentoml' / 'models'} (BentoML's default: BENTOML_HOME is not set)" in said
    )
    assert "in the project directory, run `make serve`" in said


def test_missing_model_in_the_projects_own_store_says_to_import_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bentofile.yaml").write_text("service: x:Y\n")
    (tmp_path / "src").mkdir()
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / ".bentoml"))
    said = missing_model_message(MODEL_NAME, "model-v3", tmp_path / "src")  # from a subdirectory of the project
    assert said.startswith(f"model {MODEL_NAME}:model-v3 is not in the BentoML model store {tmp_path}/.bentoml/models")
    assert "the project's store: run `make serve`" in said and "`make import-model` first" in said


def test_missing_model_elsewhere_points_at_the_projects_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bentofile.yaml").write_text("service: x:Y\n")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "other"))
    said = missing_model_message(MODEL_NAME, None, tmp_path)
    assert f"not in the BentoML model store {tmp_path}/other/models ($BENTOML_HOME), nor in the project's store" in said
    assert f"`make import-model`, then `BENTOML_HOME={tmp_path}/.bentoml bentoml serve`" in said
    (tmp_path / ".bentoml" / "models" / MODEL_NAME / "dev-abc").mkdir(parents=True)  # another version only
    assert "nor in the project's store" in missing_model_message(MODEL_NAME, "model-v3", tmp_path)


@pytest.mark.slow
def test_bentoml_serve_in_the_project_names_the_stores_and_the_advice_works(
    service_project: Path, serving_env: dict[str, str], tmp_path: Path
) -> None:
    """`bentoml serve` in the project directory, as BentoML's docs teach, without the Makefile's BENTOML_HOME: one
    message naming BentoML's default store and the project's, which holds the model; its command then serves."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(ROOT / "bentofile.yaml", project)
    store = project / ".bentoml"
    run(["gitops-ml", "import-model"], service_project, env=serving_env | {"BENTOML_HOME": str(store)})
    env = {k: v for k, v in serving_env.items() if k != "BENTOML_HOME"} | {"HOME": str(tmp_path / "home")}
    result = run(["bentoml", "serve", "--port", str(free_port())], project, env=env, check=False)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert "Traceback" not in result.stderr + result.stdout
    assert said.startswith(f"error: model {MODEL_NAME}:latest is not in the BentoML model store ")
    assert f"{tmp_path / 'home' / 'bentoml' / 'models'} (BentoML's default: BENTOML_HOME is not set)" in said
    assert f"The project's store {store} holds it: run `make serve`" in said
    assert f"`BENTOML_HOME={store} bentoml serve`" in said
    with serve(".", env | {"BENTOML_HOME": str(store)}, project) as server:  # the advice, followed
        assert server.process.poll() is None
