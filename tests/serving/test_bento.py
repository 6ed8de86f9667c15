"""The bento build: version, labels, packed model, pinned requirements, and its exported container context."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from gitops_ml.io import read_json
from gitops_ml.serving.store import MODEL_NAME
from tests.support.lock_pins import image_environment, locked_for_image, pin_drift
from tests.support.projects import ROOT, run
from tests.support.serving import BuiltBento


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


@pytest.mark.slow
def test_build_prints_the_tag_last_and_writes_it(built_bento: BuiltBento) -> None:
    head = run(["git", "rev-parse", "--short=7", "HEAD"], built_bento.project).stdout.strip()
    assert built_bento.tag == f"gitops-ml-service:dev-{head}"
    assert built_bento.stdout.strip().splitlines()[-1] == built_bento.tag
    assert (built_bento.project / "reports" / "bento_tag.txt").read_text() == built_bento.tag + "\n"


@pytest.mark.slow
def test_bento_is_labelled_and_packs_the_model_and_only_code(built_bento: BuiltBento) -> None:
    info = yaml.safe_load((built_bento.path / "bento.yaml").read_text())
    version = built_bento.tag.split(":")[1]
    labels = info["labels"]
    metrics = read_json(built_bento.project / "reports" / "metrics.json")
    assert labels["model_version"] == version
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
