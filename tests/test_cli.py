"""The CLI turns expected failures into one clear message and exit 1, and leaves no partial outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gitops_ml.cli import app
from tests.support.fixture_project import FIXTURE_PARAMS

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "params.yaml").write_text((FIXTURE_PARAMS).read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bad_params_exit_1_with_the_key(workdir: Path) -> None:
    params = (FIXTURE_PARAMS).read_text()
    (workdir / "params.yaml").write_text(params.replace("test_size: 0.25", "test_sise: 0.25"))
    result = runner.invoke(app, ["split"])
    assert result.exit_code == 1
    assert "split.test_sise: unknown key" in result.output
    assert "Traceback" not in result.output


def test_bad_data_exit_1_names_columns_and_writes_nothing(workdir: Path) -> None:
    assert runner.invoke(app, ["sample-data", "--rows", "2000"]).exit_code == 0
    csv = workdir / "data" / "transactions.csv"
    frame = pd.read_csv(csv)
    frame.loc[:9, "amount"] = -1
    frame.to_csv(csv, index=False)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "amount: 10 bad row(s)" in result.output
    assert not (workdir / "artifacts").exists()
    assert not (workdir / "reports").exists()


def test_stage_without_its_input_says_what_to_run(workdir: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--no-track"])
    assert result.exit_code == 1
    assert "run `dvc repro`" in result.output


def test_metrics_before_any_run_say_what_to_run(workdir: Path) -> None:
    result = runner.invoke(app, ["metrics"])
    assert result.exit_code == 1
    assert "reports/metrics.json: no metrics yet; run `make run`" in " ".join(result.output.split())


def test_sample_data_and_metrics_table(workdir: Path) -> None:
    result = runner.invoke(app, ["sample-data", "--rows", "500", "--seed", "3", "--out", "small.csv"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(workdir / "small.csv")) == 500
    (workdir / "reports").mkdir()
    (workdir / "reports" / "metrics.json").write_text(
        '{"roc_auc": 0.91, "average_precision": 0.5, "f1": 0.4, "precision": 0.3, "recall": 0.6, '
        '"accuracy": 0.97, "log_loss": null, "threshold": 0.5, "test_rows": 100}'
    )
    table = runner.invoke(app, ["metrics"])
    assert table.exit_code == 0, table.output
    assert "0.9100" in table.output and "n/a" in table.output
