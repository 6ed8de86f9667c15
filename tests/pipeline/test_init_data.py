"""`gitops-ml init-data`: own data of two shapes goes through init-data and `dvc repro` in a temporary project; every
bad input gets one clear message and writes nothing; a second adoption needs --force; a failed write is undone."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gitops_ml.cli import app
from gitops_ml.config import load_params, parse_params
from gitops_ml.pipeline import init_data as init_data_module
from gitops_ml.pipeline.infer_contract import MIN_ROWS
from gitops_ml.serving.schema import request_model
from tests.support.own_data import customer_table, numeric_table
from tests.support.projects import make_project, run

runner = CliRunner()


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file of the project (and git's index), to prove a refused command wrote nothing."""
    files = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts[:1]]
    files.append(root / ".git" / "index")
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def invoke(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Run `gitops-ml init-data ARGS` in ``project``; return the exit code and the output on one line."""
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["init-data", *args])
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> Path:
    """A fork's checkout after its first `make data`: the template's params and the built-in sample in data/."""
    project = make_project(tmp_path_factory.mktemp("init-data") / "project", dvc_cache)
    run(["gitops-ml", "ensure-data"], project)
    return project


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The input files of the bad-input cases, outside the project."""
    folder = tmp_path_factory.mktemp("inputs")
    numeric_table().to_csv(folder / "numeric.csv", index=False)
    (folder / "garbage.csv").write_bytes(b"a,b\n1,2,3,4\n\x00\xff")
    (folder / "notes.xlsx").write_bytes(b"PK\x03\x04")
    numeric_table().assign(converted=lambda f: f.index % 12).to_csv(folder / "twelve_classes.csv", index=False)
    numeric_table(rows=MIN_ROWS - 1).to_csv(folder / "small.csv", index=False)
    numeric_table().rename(columns={"pages_viewed": "pages viewed"}).to_csv(folder / "spaces.csv", index=False)
    numeric_table().assign(probability=[f"r{i}" for i in range(300)]).to_csv(folder / "collide.csv", index=False)
    numeric_table().assign(converted=lambda f: f["converted"].where(f.index >= 3)).to_csv(
        folder / "unlabelled.csv", index=False
    )
    return folder


BAD_INPUTS = {
    "missing file": ("nope.csv", "converted", ["nope.csv does not exist or is not a file"]),
    "unreadable file": ("garbage.csv", "converted", ["garbage.csv is not a readable CSV file"]),
    "not csv or parquet": ("notes.xlsx", "converted", ["reads CSV or parquet files (.csv, .parquet, .pq)"]),
    "missing target": (
        "numeric.csv",
        "label",
        ["no column 'label' to use as the target; the columns are: pages_viewed, seconds_on_site, ad_score"],
    ),
    "non-binary target": (
        "twelve_classes.csv",
        "converted",
        ["target 'converted' is not binary: it has 12 distinct value(s) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...)"],
    ),
    "target with gaps": ("unlabelled.csv", "converted", ["target 'converted' has no value in 3 row(s)"]),
    "too few rows": ("small.csv", "converted", [f"has {MIN_ROWS - 1} rows; init-data needs at least {MIN_ROWS}"]),
    "name that cannot be a field": (
        "spaces.csv",
        "converted",
        ["'pages viewed': use letters, digits and _", "(e.g. pages_viewed)", "Rename them in the file"],
    ),
    "id colliding with the response": (
        "collide.csv",
        "converted",
        ["'probability': an id column of that name would collide with the prediction's 'probability' field"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_clear_message_and_writes_nothing(
    case: str, sample_project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, target, expected = BAD_INPUTS[case]
    before = snapshot(sample_project)
    code, output = invoke(sample_project, monkeypatch, str(inputs / name), "--target", target)
    assert code == 1
    assert output.startswith("error: ")
    for fragment in expected:
        assert fragment in output
    assert "Traceback" not in output
    assert snapshot(sample_project) == before
    assert not list(sample_project.glob(".init-data-*"))


def test_names_yaml_would_misread_survive_the_round_trip(sample_project: Path, tmp_path: Path) -> None:
    """`on`, `null` and `yes` are booleans and null to PyYAML: written quoted, they stay the column names."""
    source = tmp_path / "tricky.csv"
    numeric_table().rename(columns={"pages_viewed": "on", "ad_score": "null", "converted": "yes"}).to_csv(
        source, index=False
    )
    before = snapshot(sample_project)
    contract, text, _ = init_data_module.plan(source, "yes", sample_project)
    params = parse_params(yaml.safe_load(text))
    assert params.schema.target == "yes"
    assert list(params.schema.columns) == list(contract.columns) == ["on", "seconds_on_site", "null", "returning"]
    assert snapshot(sample_project) == before  # planning writes nothing


def test_other_files_in_data_need_force(sample_project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = sample_project / "data" / "extra.csv"
    extra.write_text("a\n1\n")
    try:
        before = snapshot(sample_project)
        code, output = invoke(sample_project, monkeypatch, str(inputs / "numeric.csv"), "--target", "converted")
        assert code == 1
        assert "data/ holds data/extra.csv" in output and "--force" in output
        assert snapshot(sample_project) == before
    finally:
        extra.unlink()


def test_a_file_already_in_data_is_adopted_in_place(
    project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old README flow put the file in data/ first: init-data takes it from there and drops the sample."""
    run(["gitops-ml", "ensure-data"], project)
    own = project / "data" / "own.csv"
    own.write_bytes((inputs / "numeric.csv").read_bytes())
    code, output = invoke(project, monkeypatch, "data/own.csv", "--target", "converted", "--name", "web-signups")
    assert code == 0, output
    assert sorted(p.name for p in (project / "data").iterdir()) == ["own.csv"]
    assert own.read_bytes() == (inputs / "numeric.csv").read_bytes()
    assert "removed from data/: data/transactions.csv Next:" in output
    assert "data.dvc" in run(["git", "diff", "--cached", "--name-only"], project).stdout  # dvc add recorded it
    params = load_params(project / "params.yaml")
    assert (params.data.path, params.project.name) == (Path("data/own.csv"), "web-signups")
    assert params.data.sample is None  # own data: ensure-data never regenerates the sample over it


def test_a_failed_write_is_undone(project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dvc add` failing (injected: the last step) leaves data/, params.yaml, data.dvc and .gitignore as they were."""
    run(["gitops-ml", "ensure-data"], project)
    before = snapshot(project)

    def broken_dvc_add(root: Path) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(init_data_module, "_dvc_add", broken_dvc_add)
    with pytest.raises(RuntimeError, match="disk full"):
        init_data_module.init_data(inputs / "numeric.csv", "converted", project)
    assert snapshot(project) == before
    assert not list(project.glob(".init-data-*"))


def _untouched_sections(text: str) -> dict:
    raw = yaml.safe_load(text)
    raw["gate"].pop("floors")
    return {key: value for key, value in raw.items() if key not in ("project", "data", "schema")}


def _next_commands(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.split("Next:")[1].strip().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "file_name", "target"),
    [("numeric", "signups.csv", "converted"), ("customers", "customers.parquet", "churn")],
)
def test_own_data_goes_through_init_data_and_dvc_repro(
    shape: str, file_name: str, target: str, tmp_path: Path, dvc_cache: Path
) -> None:
    project = make_project(tmp_path / "project", dvc_cache)
    run(["gitops-ml", "ensure-data"], project)  # the fork's first `make run` materialized the sample
    frame = numeric_table() if shape == "numeric" else customer_table()
    source = tmp_path / "incoming" / file_name
    source.parent.mkdir()
    if source.suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source, index=False)
    old_text = (project / "params.yaml").read_text()
    old_dvc = (project / "data.dvc").read_text()

    result = run(["gitops-ml", "init-data", str(source), "--target", target], project)

    assert sorted(p.name for p in (project / "data").iterdir()) == [file_name]  # the sample left the pipeline
    assert "removed from data/: data/transactions.csv" in result.stdout
    assert (project / "data.dvc").read_text() != old_dvc
    text = (project / "params.yaml").read_text()
    assert _untouched_sections(text) == _untouched_sections(old_text)
    for comment in (line for line in old_text.splitlines() if line.startswith("#")):
        assert comment in text  # the file's own comments stay
    params = load_params(project / "params.yaml")
    assert params.data.path == Path("data") / file_name
    assert params.data.sample is None
    assert params.schema.target == target
    assert params.project.name == source.stem
    assert params.tracking.experiment == source.stem
    assert _next_commands(result.stdout) == [
        "make run",
        f'git add data.dvc params.yaml dvc.lock .gitignore && git commit -m "Own data: {file_name}"',
    ]

    run(["dvc", "repro"], project)

    summary = json.loads((project / "reports" / "data_summary.json").read_text())
    assert summary["rows"] == len(frame)
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    for metric, floor in params.gate.floors.items():
        assert metrics[metric] >= floor, f"{metric} {metrics[metric]} is below the floor {floor} init-data set"
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    _, request = request_model(params)  # the service's contract takes every hold-out row as a pandas client sends it
    rows = test[[*params.schema.ids, *params.schema.feature_names]]
    records = json.loads(json.dumps(rows.astype(object).where(rows.notna(), None).to_dict(orient="records")))
    request.model_validate_json(json.dumps({"records": records[: params.serving.max_records]}))

    if shape == "customers":
        assert params.schema.ids == ["customer_id"]
        assert test["customer_id"].notna().all()
        assert (params.schema.positive_class, params.schema.negative_class) == ("yes", "no")
        assert (params.project.positive_label, params.project.negative_label) == ("yes", "no")
        _commit_then_adopt_again(project, result.stdout, source)


def _commit_then_adopt_again(project: Path, init_stdout: str, source: Path) -> None:
    """The printed commit leaves nothing behind; adopting again needs --force; --force relabels, keeps the rest."""
    run(["bash", "-c", _next_commands(init_stdout)[1]], project)
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    run(["gitops-ml", "check-lock"], project)  # dvc.lock as committed records what `dvc repro` made

    before = snapshot(project)
    refused = run(["gitops-ml", "init-data", str(source), "--target", "churn"], project, check=False)
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert "already has data of its own (data.path: data/customers.parquet, schema.target: churn" in message
    assert "--force" in message
    assert snapshot(project) == before

    text = (project / "params.yaml").read_text().replace('"TODO: set project.owner in params.yaml"', "churn team")
    (project / "params.yaml").write_text(text)
    run(["gitops-ml", "init-data", str(source), "--target", "churn", "--force", "--positive", "no"], project)
    params = load_params(project / "params.yaml")
    assert (params.schema.positive_class, params.schema.negative_class) == ("no", "yes")
    assert (params.project.positive_label, params.project.negative_label) == ("no", "yes")
    assert params.project.owner == "churn team"  # a later adoption keeps what the team wrote
    assert re.search(r"min_target_rate: 0\.\d+", (project / "params.yaml").read_text())
