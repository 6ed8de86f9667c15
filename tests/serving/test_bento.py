"""The bento build: version, labels, packed model, pinned requirements, and its exported container context."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from packaging.markers import Marker

from gitops_ml.config import load_params
from gitops_ml.errors import BentoBuildError
from gitops_ml.io import read_json
from gitops_ml.model_call.scorer import scorer_packages
from gitops_ml.model_io import save_model
from gitops_ml.pipeline.estimators import ESTIMATORS
from gitops_ml.pipeline.train import fit_model
from gitops_ml.serving.bento import bento_packages, read_bentofile
from gitops_ml.serving.requirements import image_environment, locked_for_image, pin_drift
from gitops_ml.serving.store import MODEL_NAME, stored_files
from tests.support.projects import ROOT, run
from tests.support.serving import BuiltBento

LOCK = tomllib.loads((ROOT / "uv.lock").read_text())


def lock_version(package: str) -> str:
    """The version of ``package`` (a direct dependency) that uv.lock gives Python 3.11, the image's: read from the
    project's own dependency edges, not through the lock walk under test."""
    root = next(p for p in LOCK["package"] if "editable" in p["source"])
    python = {"python_version": "3.11", "python_full_version": "3.11.0"}
    edges = [
        d
        for d in root["dependencies"]
        if d["name"] == package and ("marker" not in d or Marker(d["marker"]).evaluate(python))
    ]
    assert len(edges) == 1, edges
    if "version" in edges[0]:  # the lock splits the package by Python version
        return str(edges[0]["version"])
    (version,) = {p["version"] for p in LOCK["package"] if p["name"] == package}
    return str(version)


def bentofile() -> dict:
    return yaml.safe_load((ROOT / "bentofile.yaml").read_text())


def test_bentofile_pins_match_uv_lock() -> None:
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    pins = {line.split("==")[0] for line in bentofile["python"]["packages"]}
    assert {"bentoml", "scikit-learn", "skops", "pandas", "numpy", "pydantic", "pyyaml"} <= pins
    assert pin_drift(bentofile, lock) == {}


def test_pin_check_reports_a_pin_for_another_python() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    # uv.lock splits numpy at Python 3.12 (e.g. 2.4.x below, 2.5.x from 3.12): the 3.12 line must not pass for 3.11.
    for_312 = locked_for_image(lock, image_environment("3.12"))["numpy"]
    for_311 = locked_for_image(lock, image_environment("3.11"))["numpy"]
    assert for_312 != for_311, "uv.lock no longer splits numpy by Python version: pick another split package"
    eleven = {"docker": {"python_version": "3.11"}, "python": {"packages": [f"numpy=={for_312}", "bentoml==0.0.1"]}}
    drift = pin_drift(eleven, lock)
    assert set(drift) == {"numpy", "bentoml"}
    assert drift["numpy"] == f"pinned {for_312}, uv.lock has {for_311} for Python 3.11"
    twelve = {"docker": {"python_version": "3.12"}, "python": {"packages": [f"numpy=={for_312}"]}}
    assert pin_drift(twelve, lock) == {}


def test_pin_check_names_a_missing_python_version() -> None:
    with pytest.raises(ValueError, match=r"docker\.python_version"):
        pin_drift({"python": {"packages": ["numpy==2.4.6"]}}, {"package": []})


def test_the_bentofile_lists_no_estimator_package() -> None:
    """Estimator packages come from the registry at build time, never from a hand-kept list."""
    listed = {line.split("==")[0] for line in bentofile()["python"]["packages"]}
    declared = {package for cls in ESTIMATORS.values() for package in cls.packages}
    assert declared and not listed & declared


@pytest.mark.parametrize(("package", "module"), [("lightgbm", "lightgbm"), ("xgboost-cpu", "xgboost")])
def test_an_estimators_packages_are_added_pinned_to_the_lock(package: str, module: str) -> None:
    own = bentofile()["python"]["packages"]
    packages = bento_packages(bentofile(), ROOT / "uv.lock", (package,))
    assert packages[: len(own)] == own
    added = packages[len(own) :]
    assert f"{package}=={lock_version(package)}" in added
    # What it pulls in (numpy, scipy) is pinned once, by the bentofile.
    names = [line.split("==")[0] for line in packages]
    assert len(names) == len(set(names)) and {"numpy", "scipy"} <= set(names)
    assert pin_drift({"docker": bentofile()["docker"], "python": {"packages": packages}}, LOCK) == {}


def test_the_compiled_scorers_packages_are_added_pinned_to_the_lock() -> None:
    """ONNX Runtime and the converters reach the image with what they pull in (protobuf below 7, onnx), as locked."""
    own = bentofile()["python"]["packages"]
    assert set(scorer_packages()) == {"onnxruntime", "skl2onnx", "onnxmltools"}
    packages = bento_packages(bentofile(), ROOT / "uv.lock", scorer_packages())
    added = {line.split("==")[0]: line.split("==")[1] for line in packages[len(own) :]}
    assert {"onnxruntime", "skl2onnx", "onnxmltools", "onnx", "protobuf"} <= set(added), added
    assert int(added["protobuf"].split(".")[0]) < 7  # skl2onnx fails with protobuf 7
    assert pin_drift({"docker": bentofile()["docker"], "python": {"packages": packages}}, LOCK) == {}


def test_a_model_without_estimator_packages_keeps_the_bentofiles() -> None:
    assert bento_packages(bentofile(), ROOT / "uv.lock", ()) == bentofile()["python"]["packages"]


def test_every_registered_estimators_packages_can_be_pinned() -> None:
    """An estimator whose package is not in the lock fails here, not at release time."""
    for name, cls in ESTIMATORS.items():
        added = bento_packages(bentofile(), ROOT / "uv.lock", cls.packages)[len(bentofile()["python"]["packages"]) :]
        assert {line.split("==")[0] for line in added} >= set(cls.packages), name


def test_a_package_the_lock_does_not_install_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BentoBuildError, match=r"needs catboost, which uv.lock does not install.*`uv add catboost`"):
        bento_packages(bentofile(), ROOT / "uv.lock", ("catboost",))
    with pytest.raises(BentoBuildError, match=r"uv.lock: missing; the bento's packages are pinned from it"):
        bento_packages(bentofile(), tmp_path / "uv.lock", ("lightgbm",))


def test_a_bentofile_that_names_the_bento_is_refused_with_the_fix(tmp_path: Path) -> None:
    named = bentofile() | {"name": "gitops-ml-service"}
    (tmp_path / "bentofile.yaml").write_text(yaml.safe_dump(named))
    with pytest.raises(BentoBuildError, match=r"remove 'name:'.*project\.name in params\.yaml"):
        read_bentofile(tmp_path / "bentofile.yaml")


@pytest.mark.slow
def test_a_bento_for_a_lightgbm_model_installs_lightgbm(
    pipeline_project: Path, serving_env: dict[str, str], tmp_path: Path
) -> None:
    """The model's estimator decides the bento's extra packages: the params stored with the model name it."""
    project = tmp_path / "project"
    shutil.copytree(pipeline_project, project, symlinks=True)
    params_file = project / "params.yaml"
    text = params_file.read_text()
    assert "\n  estimator: hist_gradient_boosting\n" in text
    params_file.write_text(text.replace("\n  estimator: hist_gradient_boosting\n", "\n  estimator: lightgbm\n"))
    params = load_params(params_file)
    small = params.train.model_copy(update={"lightgbm": params.train.lightgbm.model_copy(update={"n_estimators": 20})})
    train = pd.read_parquet(project / "artifacts" / "train.parquet")
    save_model(fit_model(train, params.schema, small), project / "models" / "model.skops")

    env = serving_env | {"MODEL_VERSION": "lightgbm-check"}  # not the dev-<commit> of the session's bento
    tag = run(["gitops-ml", "build-bento"], project, env=env).stdout.strip().splitlines()[-1]
    built = BuiltBento(tag=tag, stdout="", project=project, env=env)
    requirements = (built.path / "env" / "python" / "requirements.txt").read_text().splitlines()
    assert f"lightgbm=={lock_version('lightgbm')}" in requirements
    assert not any(line.startswith("xgboost") for line in requirements)
    stored_params, model = stored_files(Path(env["BENTOML_HOME"]) / "models" / MODEL_NAME / "lightgbm-check")
    assert stored_params.train.estimator.value == "lightgbm" and type(model[-1]).__name__ == "LGBMClassifier"


@pytest.mark.slow
def test_the_default_bento_installs_no_estimator_package(built_bento: BuiltBento) -> None:
    requirements = (built_bento.path / "env" / "python" / "requirements.txt").read_text()
    assert not re.search(r"^(lightgbm|xgboost)", requirements, flags=re.MULTILINE), requirements
    assert f"onnxruntime=={lock_version('onnxruntime')}" in requirements.splitlines()  # the compiled model call


@pytest.mark.slow
def test_build_prints_the_tag_last_and_writes_it(built_bento: BuiltBento) -> None:
    head = run(["git", "rev-parse", "--short=7", "HEAD"], built_bento.project).stdout.strip()
    name = load_params(built_bento.project / "params.yaml").project.name
    assert built_bento.tag == f"{name.lower()}:dev-{head}"  # the project's name, not the template's
    assert built_bento.stdout.strip().splitlines()[-1] == built_bento.tag
    assert (built_bento.project / "reports" / "bento_tag.txt").read_text() == built_bento.tag + "\n"


@pytest.mark.slow
def test_bento_is_labelled_and_packs_the_model_and_only_code(built_bento: BuiltBento) -> None:
    info = yaml.safe_load((built_bento.path / "bento.yaml").read_text())
    version = built_bento.tag.split(":")[1]
    labels = info["labels"]
    metrics = read_json(built_bento.project / "reports" / "metrics.json")
    assert labels["model_version"] == version
    assert labels["project"] == load_params(built_bento.project / "params.yaml").project.name
    assert labels["git_commit"] == run(["git", "rev-parse", "HEAD"], built_bento.project).stdout.strip()
    assert labels["data_md5"] == read_json(built_bento.project / "reports" / "data_summary.json")["md5"]
    assert float(labels["metric_average_precision"]) == pytest.approx(metrics["average_precision"], rel=1e-5)
    assert info["args"] == {"model_tag": f"{MODEL_NAME}:{version}"}
    assert [m["tag"] for m in info["services"][0]["models"]] == [f"{MODEL_NAME}:{version}"]
    packed = sorted(p.relative_to(built_bento.path / "src").as_posix() for p in (built_bento.path / "src").rglob("*"))
    files = [p for p in packed if not (built_bento.path / "src" / p).is_dir()]
    assert "gitops_ml/serving/service.py" in files
    assert all(re.fullmatch(r"gitops_ml/.+\.py|bentofile\.yaml", p) for p in files), files
    requirements = (built_bento.path / "env" / "python" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert "skops==" in requirements


@pytest.mark.slow
def test_container_context_has_the_model_and_a_non_root_dockerfile(built_bento: BuiltBento, tmp_path: Path) -> None:
    out = tmp_path / "context"
    result = run(["gitops-ml", "bento-context", "--out", str(out)], built_bento.project, env=built_bento.env)
    dockerfile = Path(result.stdout.strip().splitlines()[-1])
    assert dockerfile == out / "env" / "docker" / "Dockerfile"
    text = dockerfile.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users, "the Dockerfile sets no USER, so the container would run as root"
    assert users[-1] not in {"root", "0"}
    assert re.search(r"^ARG BENTO_USER=(\S+)$", text, flags=re.MULTILINE).group(1) == users[-1]
    assert re.search(r"useradd|adduser", text)  # the user is created, not assumed
    version = built_bento.tag.split(":")[1]
    assert (out / "models" / MODEL_NAME / version / "model.skops").is_file()
    assert (out / "models" / MODEL_NAME / version / "params.yaml").is_file()
    assert (out / "src" / "gitops_ml" / "serving" / "service.py").is_file()
