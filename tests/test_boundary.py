"""The boundary between the template's machinery and the team's code in ``pipeline/``.

Machinery (gitops/, serving/, monitoring/, compute/, template/, the CLI's non-pipeline commands, data_source.py, the
benchmarks) reaches ``pipeline/`` only through ``pipeline/interface.py``. The sample generator is a plug-in: a project
that deleted ``pipeline/sample_data.py`` and configures no ``data.sample`` still runs its CLI, its stages and the
release gate.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from gitops_ml import params_yaml
from tests.support.own_data import numeric_table
from tests.support.projects import make_project, project_env, run

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "gitops_ml"
INTERFACE = "gitops_ml.pipeline.interface"
# cli.py's pipeline commands import their own stage module; every other command is machinery.
STAGE_COMMANDS = SRC / "pipeline_commands.py"  # the stage commands may import their own stage module
PIPELINE_COMMANDS = frozenset({"validate", "split", "train", "evaluate", "init_data"})


def machinery_files() -> list[Path]:
    """Every module of the machinery. config.py is not one: it builds ``train:`` from the estimator registry."""
    files = [
        *SRC.glob("gitops/*.py"),
        *SRC.glob("serving/*.py"),
        *SRC.glob("monitoring/*.py"),
        *SRC.glob("compute/*.py"),
        *SRC.glob("template/*.py"),
    ]
    files += (ROOT / "benchmarks").glob("*.py")
    files += [path for path in SRC.glob("*.py") if path.name != "config.py"]
    return sorted(files)


def pipeline_imports(source: str, skip_functions: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """(line, module) of each import of a ``gitops_ml.pipeline`` module other than the interface.

    Imports inside the top-level functions named in ``skip_functions`` are not counted.
    """
    tree = ast.parse(source)
    skipped = {
        id(inner)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in skip_functions
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "gitops_ml.pipeline":
                modules = [f"gitops_ml.pipeline.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, m) for m in modules if m.startswith("gitops_ml.pipeline") and m != INTERFACE]
    return found


def test_the_import_check_sees_every_form_of_import() -> None:
    source = (
        "import gitops_ml.pipeline.train\n"
        "from gitops_ml.pipeline import features\n"
        "from gitops_ml.pipeline.interface import model_frame\n"
        "def evaluate():\n    from gitops_ml.pipeline.evaluate import run_evaluate\n"
        "def report():\n    from gitops_ml.pipeline.evaluate import predict_scores\n"
    )
    assert pipeline_imports(source, frozenset({"evaluate"})) == [
        (1, "gitops_ml.pipeline.train"),
        (2, "gitops_ml.pipeline.features"),
        (7, "gitops_ml.pipeline.evaluate"),
    ]


def test_machinery_reaches_the_pipeline_only_through_the_interface() -> None:
    files = machinery_files()
    assert SRC / "gitops" / "gate_commands.py" in files and SRC / "serving" / "service.py" in files
    assert SRC / "monitoring" / "reference.py" in files
    offending = {
        str(path.relative_to(ROOT)): found
        for path in files
        if (found := pipeline_imports(path.read_text(), PIPELINE_COMMANDS if path == STAGE_COMMANDS else frozenset()))
    }
    assert offending == {}, f"import these through {INTERFACE} instead"


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
