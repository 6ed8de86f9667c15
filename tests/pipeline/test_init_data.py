"""`gitops-ml init-data`: every bad input gets one clear message and writes nothing; a second adoption needs
--force; a failed write is undone. Own data of two shapes through init-data, `make run`, the gate and the service:
tests/test_fork.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gitops_ml.cli import app
from gitops_ml.config import load_params, parse_params
from gitops_ml.pipeline import init_data as init_data_module
from gitops_ml.pipeline.infer_contract import MIN_ROWS
from tests.support.own_data import numeric_table
from tests.support.projects import make_project, run
from tests.support.tree import snapshot

runner = CliRunner()


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
