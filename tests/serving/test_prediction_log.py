"""The prediction log's lines (schema fields only), its settings and overrides, and its sampling."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from gitops_ml.config import Params, PredictionLogParams, load_params, parse_params
from gitops_ml.monitoring.window import log_records
from gitops_ml.serving.log_lines import ScoredBatch
from gitops_ml.serving.log_writer import BackgroundWriter
from gitops_ml.serving.prediction_log import (
    ENV_VAR,
    LogSettings,
    PredictionLog,
    log_settings,
    open_sink,
    resolve_location,
    start_prediction_log,
)
from gitops_ml.tasks import Task
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.serving import make_records, request_columns
from tests.support.task_models import CLASSES, task_schema

KEYS = {"timestamp", "request_id", "model_version", "score", "label", "ids", "features"}


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(FIXTURE_PARAMS)


def test_a_relative_location_is_taken_from_where_the_server_was_started(tmp_path: Path) -> None:
    started = {"PWD": str(tmp_path)}
    assert resolve_location("logs/predictions", started) == str(tmp_path / "logs" / "predictions")
    assert resolve_location("/var/log/p", started) == "/var/log/p"
    assert resolve_location("s3://bucket/p", started) == "s3://bucket/p"
    assert resolve_location("p", {"PWD": "relative/pwd"}) == str(Path.cwd() / "p")  # not a usable PWD: the cwd
    assert resolve_location("p", {"PWD": str(tmp_path / "gone")}) == str(Path.cwd() / "p")
    assert resolve_location("p", {}) == str(Path.cwd() / "p")


def test_settings_follow_params_and_the_environment_overrides_them(tmp_path: Path) -> None:
    defaults = PredictionLogParams()
    here = {"PWD": str(tmp_path)}
    default_location = str(tmp_path / "logs" / "predictions")
    assert log_settings(defaults, here) == LogSettings(location=default_location, max_bytes=64 * 2**20)
    assert log_settings(defaults, {ENV_VAR: "off"}) is None
    assert log_settings(defaults, {ENV_VAR: " OFF "}) is None
    assert log_settings(defaults, {ENV_VAR: "/var/log/p"}).location == "/var/log/p"  # type: ignore[union-attr]
    assert log_settings(defaults, {ENV_VAR: "s3://b/p"}).location == "s3://b/p"  # type: ignore[union-attr]
    disabled = PredictionLogParams(enabled=False)
    assert log_settings(disabled, here) is None
    assert log_settings(disabled, here | {ENV_VAR: "on"}).location == default_location  # type: ignore[union-attr]
    assert log_settings(disabled, {ENV_VAR: "/data/p"}).location == "/data/p"  # type: ignore[union-attr]
    tuned = PredictionLogParams(max_file_mb=0.5, max_file_minutes=2, sample_rate=0.1, compress=True)
    assert log_settings(tuned, here) == LogSettings(
        location=default_location, sample_rate=0.1, max_bytes=2**19, max_seconds=120, compress=True
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sample_rate", 0, "serving.prediction_log.sample_rate"),
        ("sample_rate", 1.5, "serving.prediction_log.sample_rate"),
        ("max_file_mb", 0, "serving.prediction_log.max_file_mb"),
        ("queue_records", 0, "serving.prediction_log.queue_records"),
        ("path", "x", "serving.prediction_log.path: unknown key"),
    ],
)
def test_bad_settings_name_the_key(params: Params, key: str, value: object, message: str) -> None:
    raw = params.model_dump(by_alias=True, mode="json", exclude_defaults=False)
    raw["serving"]["prediction_log"][key] = value
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        parse_params(raw)


class ListSink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def seconds_until_due(self) -> float | None:
        return None

    def rotate_if_due(self) -> None:
        pass

    def close(self) -> None:
        pass


def sampled(rate: float, count: int, seed: int) -> list[int]:
    """Which of ``count`` records (numbered by their score) a log with ``rate`` keeps."""
    sink = ListSink()
    writer: BackgroundWriter[ScoredBatch] = BackgroundWriter(
        sink, lambda b: "".join(f"{int(s)}\n" for s in b.scores), 10**6
    )
    log = PredictionLog(writer, rate, random.Random(seed))
    for start in range(0, count, 100):
        numbers = list(range(start, start + 100))
        log.record({"n": numbers}, {"id": [f"t-{i}" for i in numbers]}, [float(i) for i in numbers], "r")
    log.close()
    return [int(line) for line in sink.text.split()]


def test_sampling_keeps_each_record_with_the_sample_rate() -> None:
    assert sampled(1.0, 1000, seed=1) == list(range(1000))
    kept = sampled(0.25, 4000, seed=7)
    assert kept == sorted(set(kept))  # a subset, in order, no duplicates
    # Binomial(4000, 0.25): mean 1000, sd 27.4; the seeded draw must fall well inside six sd.
    assert 835 < len(kept) < 1165
    assert sampled(0.25, 4000, seed=8) != kept


def test_record_never_raises(params: Params, caplog: pytest.LogCaptureFixture) -> None:
    sink = ListSink()
    writer: BackgroundWriter[ScoredBatch] = BackgroundWriter(sink, lambda b: "x\n", 10)
    log = PredictionLog(writer, 0.5, random.Random(0))
    log.record({"n": []}, {}, [0.1, 0.2, 0.3], "r")  # more scores than values: sampling indexes past a column
    log.record({"n": []}, {}, [0.1, 0.2, 0.3], "r")
    log.close()
    errors = [r for r in caplog.records if "cannot queue records" in r.getMessage()]
    assert len(errors) == 1


def test_the_service_log_writes_schema_lines_to_the_configured_directory(params: Params, tmp_path: Path) -> None:
    location = tmp_path / "predictions"
    log = start_prediction_log(params, "model-v1", environ={ENV_VAR: str(location)})
    assert log is not None
    features, ids = request_columns(params, make_records(params, 4))
    log.record({k: v[:3] for k, v in features.items()}, {k: v[:3] for k, v in ids.items()}, [0.1, 0.6, 0.2], "req-1")
    log.record({k: v[3:] for k, v in features.items()}, {k: v[3:] for k, v in ids.items()}, [0.9], "req-2")
    log.close()
    (path,) = location.iterdir()
    records = [record for line in path.read_text().splitlines() for record in log_records(json.loads(line))]
    assert [(r["request_id"], r["score"], r["label"]) for r in records] == [
        ("req-1", 0.1, 0),
        ("req-1", 0.6, 1),
        ("req-1", 0.2, 0),
        ("req-2", 0.9, 1),
    ]
    assert [r["ids"]["transaction_id"] for r in records] == ["t-0", "t-1", "t-2", "t-3"]
    assert all(set(r) == KEYS for r in records)


def test_a_sampled_request_keeps_the_same_records_in_every_column() -> None:
    sink = ListSink()

    def render(batch: ScoredBatch) -> str:
        rows = zip(batch.scores, batch.features["n"], batch.ids["id"], strict=True)
        return "".join(f"{score:.0f} {n} {i}\n" for score, n, i in rows)

    writer: BackgroundWriter[ScoredBatch] = BackgroundWriter(sink, render, 10**6)
    log = PredictionLog(writer, 0.5, random.Random(3))
    numbers = list(range(200))
    log.record({"n": numbers}, {"id": [f"t-{i}" for i in numbers]}, [float(i) for i in numbers], "r")
    log.close()
    kept = [line.split() for line in sink.text.splitlines()]
    assert 50 < len(kept) < 150
    assert all(score == n and i == f"t-{n}" for score, n, i in kept)


def test_the_service_log_is_off_when_configured_off(params: Params) -> None:
    assert start_prediction_log(params, "v", environ={ENV_VAR: "off"}) is None


def test_open_sink_picks_files_or_fsspec(tmp_path: Path) -> None:
    from gitops_ml.serving.log_sinks import FsspecSink, RotatingFileSink

    assert isinstance(open_sink(LogSettings(location=str(tmp_path))), RotatingFileSink)
    remote = open_sink(LogSettings(location="memory://p"))
    assert isinstance(remote, FsspecSink)
    assert remote.spool.is_dir() and not any(remote.spool.iterdir())
    remote.close()  # nothing to upload; the spool it made goes
    assert not remote.spool.exists()


def test_the_service_log_of_a_multiclass_model_samples_whole_records(params: Params, tmp_path: Path) -> None:
    raw = params.model_dump(by_alias=True, mode="json", exclude={"gate"})  # gate rules left out: the task's defaults
    raw["schema"] = task_schema(Task.MULTICLASS).model_dump(mode="json", exclude_none=True)
    raw["serving"]["prediction_log"]["sample_rate"] = 0.5
    multiclass = parse_params(raw)
    log = start_prediction_log(multiclass, "model-v1", environ={ENV_VAR: str(tmp_path)})
    assert log is not None
    rows = 40
    probabilities = np.random.default_rng(0).dirichlet([1, 1, 1], rows)
    amounts = [float(i) for i in range(rows)]
    features = {name: [None] * rows for name in multiclass.schema.columns} | {"amount": amounts}
    log.record(features, {}, probabilities, "req-1")
    log.close()
    (path,) = tmp_path.iterdir()
    records = [record for line in path.read_text().splitlines() for record in log_records(json.loads(line))]
    assert 5 < len(records) < rows  # Binomial(40, 0.5): outside these bounds about once in a million runs
    for record in records:  # each kept record has its own features, probabilities and class
        row = probabilities[int(record["features"]["amount"])]
        assert list(record["probabilities"].values()) == row.tolist()
        assert record["label"] == CLASSES[int(row.argmax())]
        assert "score" not in record
