"""`gitops-ml init-data`: every bad input gets one clear message and writes nothing; a second adoption needs
--force; a failed write is undone; each task (inferred, or TASK=) writes its own contract and gate rules. Own data
of two shapes through init-data, `make run`, the gate and the service: tests/test_fork.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gitops_ml.adopt import init_data as init_data_module
from gitops_ml.adopt.infer_contract import MIN_ROWS
from gitops_ml.cli import app
from gitops_ml.config import load_params, parse_params
from gitops_ml.model_metrics import DEFAULT_PRIMARY_METRIC, data_guards, no_skill_floors
from gitops_ml.tasks import Task
from gitops_ml.template.naming import distribution_name
from tests.support.own_data import numeric_table
from tests.support.projects import ROOT, make_project, project_env, run
from tests.support.task_data import WEATHER_CLASSES, cars_table, weather_table
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
    """The input files of the bad-input cases (and the good tables of each task), outside the project."""
    folder = tmp_path_factory.mktemp("inputs")
    numeric_table().to_csv(folder / "numeric.csv", index=False)
    (folder / "garbage.csv").write_bytes(b"a,b\n1,2,3,4\n\x00\xff")
    (folder / "notes.xlsx").write_bytes(b"PK\x03\x04")
    numeric_table().assign(converted=lambda f: f.index % 12).to_csv(folder / "twelve_classes.csv", index=False)
    numeric_table(rows=MIN_ROWS - 1).to_csv(folder / "small.csv", index=False)
    numeric_table().rename(columns={"pages_viewed": "pages viewed"}).to_csv(folder / "spaces.csv", index=False)
    numeric_table().assign(probability=[f"r{i}" for i in range(300)]).to_csv(folder / "collide.csv", index=False)
    numeric_table().assign(converted=None).to_csv(folder / "unlabelled.csv", index=False)
    numeric_table().assign(converted=1).to_csv(folder / "one_value.csv", index=False)
    weather_table().to_csv(folder / "weather.csv", index=False)
    rare = weather_table()
    rare.loc[rare.index[rare["weather"] == "snow"][4:], "weather"] = "rain"
    rare.to_csv(folder / "rare.csv", index=False)
    bad_date = weather_table()
    bad_date.loc[7, "date"] = "2012-02-30"
    bad_date.to_csv(folder / "bad_date.csv", index=False)
    cars_table().to_parquet(folder / "cars.parquet", index=False)
    cars_table().assign(origin=lambda f: f["origin"].where(f.index % 3 > 0)).to_csv(folder / "cars.csv", index=False)
    return folder


BAD_INPUTS = {
    "missing file": ("nope.csv", ["--target", "converted"], ["nope.csv does not exist or is not a file"]),
    "unreadable file": ("garbage.csv", ["--target", "converted"], ["garbage.csv is not a readable CSV file"]),
    "not csv or parquet": (
        "notes.xlsx",
        ["--target", "converted"],
        ["reads CSV or parquet files (.csv, .parquet, .pq)"],
    ),
    "missing target": (
        "numeric.csv",
        ["--target", "label"],
        ["no column 'label' to use as the target; the columns are: pages_viewed, seconds_on_site, ad_score"],
    ),
    "target that is not binary": (
        "twelve_classes.csv",
        ["--target", "converted", "--task", "binary"],
        ["target 'converted' is not binary: it has 12 distinct value(s) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...)"],
    ),
    "unlabelled rows only": (
        "unlabelled.csv",
        ["--target", "converted"],
        ["target 'converted' has no value in any of the 300 row(s): every row is unlabelled"],
    ),
    "target with one value": ("one_value.csv", ["--target", "converted"], ["has one value (1) in every labelled row"]),
    "class with too few rows": (
        "rare.csv",
        ["--target", "weather"],
        ["target 'weather': too few labelled rows of a class ('snow' has 4); init-data needs at least 10"],
    ),
    "date that does not parse": (
        "bad_date.csv",
        ["--target", "weather"],
        ["column 'date' holds dates, but 1 value(s) are not ISO 8601 dates ('2012-02-30')"],
    ),
    "regression target with text": (
        "weather.csv",
        ["--target", "weather", "--task", "regression"],
        ["target 'weather' holds text (", "a regression target must be numbers"],
    ),
    "unknown task": ("weather.csv", ["--target", "weather", "--task", "ranking"], ["'ranking' is not one of"]),
    "too few rows": (
        "small.csv",
        ["--target", "converted"],
        [f"has {MIN_ROWS - 1} labelled rows; init-data needs at least {MIN_ROWS}"],
    ),
    "name that cannot be a field": (
        "spaces.csv",
        ["--target", "converted"],
        ["'pages viewed': use letters, digits and _", "(e.g. pages_viewed)", "Rename them in the file"],
    ),
    "id colliding with the response": (
        "collide.csv",
        ["--target", "converted"],
        ["'probability': an id column of that name would collide with the prediction's 'probability' field"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_clear_message_and_writes_nothing(
    case: str, sample_project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, args, expected = BAD_INPUTS[case]
    before = snapshot(sample_project)
    code, output = invoke(sample_project, monkeypatch, str(inputs / name), *args)
    assert code in (1, 2)  # 2: the command line itself (typer's usage error)
    assert output.startswith("error: ") or "Invalid value for '--task'" in output
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
    assert distribution_name(project) == "web-signups"  # the package metadata follows the name
    assert 'name = "web-signups"\nversion = ' in (project / "uv.lock").read_text()
    assert "pyproject.toml, uv.lock, README.md: named web-signups (the Python distribution" in output
    assert "git add data.dvc params.yaml dvc.lock .gitignore pyproject.toml uv.lock README.md && git commit" in output
    assert (project / "README.md").read_text().startswith("# web-signups\n")  # it had the template's title


def test_a_failed_write_is_undone(project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dvc add` failing (injected: the last step) leaves data/, params.yaml, pyproject.toml, uv.lock, data.dvc and
    .gitignore as they were."""
    run(["gitops-ml", "ensure-data"], project)
    before = snapshot(project)

    def broken_dvc_add(root: Path) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(init_data_module, "_dvc_add", broken_dvc_add)
    with pytest.raises(RuntimeError, match="disk full"):
        init_data_module.init_data(inputs / "numeric.csv", "converted", project)
    assert snapshot(project) == before
    assert not list(project.glob(".init-data-*"))


# --- the three tasks, and switching between them ---------------------------------------------------------------


def raw_params(project: Path) -> dict:
    return yaml.safe_load((project / "params.yaml").read_text())


def test_each_task_is_adopted_with_its_contract_and_gate(
    project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multiclass, then regression, then binary again (--force): each writes its own keys and removes the others'."""
    run(["gitops-ml", "ensure-data"], project)
    weather = weather_table()
    code, output = invoke(project, monkeypatch, str(inputs / "weather.csv"), "--target", "weather")
    assert code == 0, output
    labelled = weather["weather"].dropna()
    assert f"({len(labelled)} labelled rows; 7 unlabelled rows (no weather), which validate leaves out)" in output
    assert "target weather: multiclass (5 labels); classes (schema.classes, in this order): drizzle " in output
    assert "date datetime as year, month, day, day_of_week" in output
    assert "gate (primary_metric macro_f1; guards balanced_accuracy 0.02, log_loss 0.05; floors macro_f1 " in output
    raw = raw_params(project)
    schema = raw["schema"]
    assert (schema["task"], schema["classes"]) == ("multiclass", WEATHER_CLASSES)
    assert not {"positive_class", "negative_class", "min_target_rate", "max_target_rate"} & set(schema)
    assert schema["columns"]["date"] == {"type": "datetime", "parts": ["year", "month", "day", "day_of_week"]}
    assert "positive_label" not in raw["project"] and "negative_label" not in raw["project"]
    encoded = labelled.map(WEATHER_CLASSES.index).to_numpy()
    assert raw["gate"]["primary_metric"] == DEFAULT_PRIMARY_METRIC[Task.MULTICLASS]
    assert raw["gate"]["guards"] == data_guards(Task.MULTICLASS, encoded)
    assert raw["gate"]["floors"] == no_skill_floors(Task.MULTICLASS, encoded)
    text = (project / "params.yaml").read_text()
    assert re.search(r"\n  target: weather +# the label: one of schema.classes", text)
    params = load_params(project / "params.yaml")  # the typed config accepts it
    assert params.task is Task.MULTICLASS
    plots = yaml.safe_load((project / "dvc.yaml").read_text())["plots"]  # DVC draws the multiclass plots
    assert "reports/plots/per_class_f1.csv" in json.dumps(plots) and "roc.csv" not in json.dumps(plots)
    assert "git add data.dvc params.yaml dvc.lock .gitignore dvc.yaml pyproject.toml uv.lock README.md && git" in output

    validated = run(["gitops-ml", "validate"], project).stderr
    assert f"validate: {len(labelled)} labelled rows pass the contract (7 unlabelled rows left out), classes:" in (
        " ".join(validated.split())
    )
    summary = json.loads((project / "reports" / "data_summary.json").read_text())
    assert summary["task"] == "multiclass" and summary["unlabelled_rows"] == 7

    # regression, with a split.time_column the new data does not have: removed, not left to fail in `split`
    params_text = (
        (project / "params.yaml")
        .read_text()
        .replace("  stratify: true\n", "  stratify: true\n  time_column: date\n")
        .replace("estimator: hist_gradient_boosting", "estimator: logistic_regression", 1)
    )
    (project / "params.yaml").write_text(params_text)
    code, output = invoke(project, monkeypatch, str(inputs / "cars.parquet"), "--target", "mpg", "--force")
    assert code == 0, output
    cars = cars_table()
    mpg = cars["mpg"].dropna()
    raw = raw_params(project)
    schema = raw["schema"]
    assert schema["task"] == "regression" and "classes" not in schema
    assert schema["target_min"] <= mpg.min() and mpg.max() <= schema["target_max"]
    assert raw["gate"]["primary_metric"] == "r2"
    assert raw["gate"]["guards"] == data_guards(Task.REGRESSION, mpg.to_numpy())
    assert raw["gate"]["floors"] == no_skill_floors(Task.REGRESSION, mpg.to_numpy())
    assert "time_column" not in raw["split"]
    assert "removed split.time_column: date is no datetime column of the new data" in output
    assert raw["train"]["estimator"] == "hist_gradient_boosting"  # logistic_regression does not predict numbers
    assert "train.estimator: hist_gradient_boosting (was logistic_regression, which does not support task" in output
    assert schema["columns"]["year"] == {"type": "datetime", "parts": ["year"]}
    assert "not used: name (text with 210 distinct values (more than 50 categories))" in output
    assert f"target mpg: regression (numbers with {mpg.nunique()} distinct values); observed {mpg.min():g} to" in output
    validated = " ".join(run(["gitops-ml", "validate"], project).stderr.split())
    assert (
        f"validate: {len(mpg)} labelled rows pass the contract (6 unlabelled rows left out), target from" in validated
    )

    # binary again: its keys and the class labels come back, the regression keys go
    code, output = invoke(project, monkeypatch, str(inputs / "numeric.csv"), "--target", "converted", "--force")
    assert code == 0, output
    raw = raw_params(project)
    assert raw["schema"]["task"] == "binary" and not {"target_min", "target_max"} & set(raw["schema"])
    assert (raw["schema"]["positive_class"], raw["schema"]["negative_class"]) == (1, 0)
    assert (raw["project"]["positive_label"], raw["project"]["negative_label"]) == ("converted", "not converted")
    assert raw["gate"]["primary_metric"] == "average_precision"
    assert set(raw["gate"]["guards"]) == {"roc_auc", "recall"}
    run(["gitops-ml", "validate"], project)


def test_the_task_can_be_chosen_through_make(project: Path, inputs: Path) -> None:
    """`make init-data ... TASK=regression`: a 0-4 rating is a number to predict, not five classes."""
    run(["gitops-ml", "ensure-data"], project)
    rating = numeric_table().assign(rating=lambda f: f.index % 5)
    rating.to_csv(project / "ratings.csv", index=False)
    env = project_env({"UV_NO_SYNC": "1"})
    (project / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    result = run(["make", "init-data", "CSV=ratings.csv", "TARGET=rating", "TASK=regression"], project, env=env)
    assert "target rating: regression (chosen with --task)" in result.stdout
    assert raw_params(project)["schema"]["task"] == "regression"


def test_time_column_survives_when_the_new_data_has_it(
    project: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(["gitops-ml", "ensure-data"], project)
    assert invoke(project, monkeypatch, str(inputs / "weather.csv"), "--target", "weather")[0] == 0
    params_text = (
        (project / "params.yaml")
        .read_text()
        .replace("  stratify: true\n", "  stratify: true\n  time_column: date\n")
        .replace("estimator: hist_gradient_boosting", "estimator: logistic_regression", 1)
    )
    (project / "params.yaml").write_text(params_text)
    assert invoke(project, monkeypatch, str(inputs / "weather.csv"), "--target", "weather", "--force")[0] == 0
    assert raw_params(project)["split"]["time_column"] == "date"
    run(["gitops-ml", "validate"], project)
    assert "latest by date" in run(["gitops-ml", "split"], project).stderr
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    train = pd.read_parquet(project / "artifacts" / "train.parquet")
    assert train["date"].max() < test["date"].min()
