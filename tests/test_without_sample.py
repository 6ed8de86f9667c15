"""The sample generator is a plug-in of the team's ``pipeline/``: a project that deleted ``pipeline/sample_data.py``
and configures no ``data.sample`` still runs its CLI, its stages and the release gate.

That the engine reaches ``pipeline/`` only through ``pipeline/interface.py`` is tests/template/test_parts.py's check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gitops_ml import params_yaml
from tests.support.own_data import numeric_table
from tests.support.projects import make_project, project_env, run


def ran_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", output)


@pytest.mark.slow(weight=3)
def test_a_project_without_the_sample_generator_runs_the_cli_the_stages_and_the_gate(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", tmp_path / "cache")  # an empty DVC cache and no remote
    (project / "src" / "gitops_ml" / "pipeline" / "sample_data.py").unlink()
    doc = params_yaml.load((project / "params.yaml").read_text())
    params_yaml.remove(doc["data"], "sample")
    params_yaml.set_value(doc["tracking"], "enabled", False)  # no MLflow: not what this test is about
    (project / "params.yaml").write_text(params_yaml.dump(doc))
    run(["git", "commit", "-qam", "no sample: the generator and data.sample are gone"], project)
    env = project_env({"PYTHONPATH": str(project / "src")})  # the copy's code, without sample_data.py

    where = run(["python", "-c", "import gitops_ml.pipeline.interface as m; print(m.__file__)"], project, env)
    assert where.stdout.strip().startswith(str(project))
    assert run(["python", "-c", "import gitops_ml.pipeline.sample_data"], project, env, check=False).returncode == 1

    assert "sample-data" in run(["gitops-ml", "--help"], project, env).stdout

    # The sample is asked for: one clear error, and nothing written.
    asked = run(["gitops-ml", "sample-data", "--rows", "500"], project, env, check=False)
    assert asked.returncode == 1
    assert "src/gitops_ml/pipeline/sample_data.py) is not in this project" in asked.stderr
    assert "Traceback" not in asked.stderr
    # data.dvc still records the sample, which no cache or remote has: ensure-data says so, and generates nothing.
    missing = run(["gitops-ml", "ensure-data"], project, env, check=False)
    assert missing.returncode == 1
    assert "records data that no configured DVC remote has" in missing.stderr
    assert "generating" not in missing.stderr and "Traceback" not in missing.stderr
    assert not (project / "data").exists()

    source = tmp_path / "signups.csv"
    numeric_table().to_csv(source, index=False)
    run(["gitops-ml", "init-data", str(source), "--target", "converted", "--force"], project, env)
    assert run(["gitops-ml", "ensure-data"], project, env).returncode == 0  # data/ now matches data.dvc

    repro = run(["dvc", "repro"], project, env)
    assert ran_stages(repro.stdout) == ["validate", "split", "train", "evaluate", "drift_reference"]
    confusion = (project / "reports" / "plots" / "confusion.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted"
    assert {value for line in confusion[1:] for value in line.split(",")} <= {"converted", "not converted"}

    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "own data"], project)
    run(["gitops-ml", "gate"], project, env)
    gate = json.loads((project / "reports" / "gate.json").read_text())
    assert gate["release"] is True, gate["reasons"]
    assert gate["tag"] == "model-v1"
