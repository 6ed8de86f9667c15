"""The prediction log and the metrics of the real service over HTTP (``bentoml serve`` of the built bento).

The log holds exactly the scored records, with only the schema's fields; a log location that cannot be written
costs no request; a log to an fsspec URL is uploaded when the server stops; and every metric the Grafana
dashboard queries (but the other tasks' prediction series) is on the live ``/metrics``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd
import pytest

from gitops_ml.config import Params
from gitops_ml.monitoring.window import log_records
from gitops_ml.serving.prediction_log import ENV_VAR
from gitops_ml.serving.prediction_metrics import TASK_METRICS
from gitops_ml.tasks import Task
from tests.support.promql import dashboard_metric_names, served_names
from tests.support.serving import BuiltBento, Server, serve, to_records

pytestmark = pytest.mark.slow

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "gitops-ml-dashboard.json"
KEYS = {"timestamp", "request_id", "model_version", "score", "label", "ids", "features"}
WAIT_S = 60  # the writer thread is asynchronous: poll up to this long (a hang guard, not a timing assertion)
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str) -> T:
    """``probe()`` once it returns something other than None, polling; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {WAIT_S} s: {what}")
        time.sleep(0.2)


def log_lines(directory: Path) -> list[dict[str, Any]]:
    """Every complete line of the log files in ``directory`` (one per request)."""
    entries = []
    for path in sorted(directory.glob("predictions-*.jsonl")):
        text = path.read_text(encoding="utf-8")
        complete = text[: text.rfind("\n") + 1]  # the file being written may end mid-line
        entries += [json.loads(line) for line in complete.splitlines()]
    return entries


def logged_records(directory: Path) -> list[dict[str, Any]]:
    """The records of every complete line in ``directory``, one dict each, as the drift check reads them."""
    return [record for entry in log_lines(directory) for record in log_records(entry)]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample on a /metrics page (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{key}="{value}"' in (match.group(1) or "") for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


def predict(server: Server, records: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", json={"records": records}, timeout=30)


def metrics_page(server: Server) -> str:
    return httpx.get(f"{server.url}/metrics", timeout=10).text


@pytest.fixture(scope="module")
def records(test_rows: pd.DataFrame, project_params: Params) -> list[dict[str, Any]]:
    """25 hold-out rows as records; the first 15 carry their id, the rest leave it out (it is optional)."""
    rows = test_rows.head(25)
    out = to_records(rows, project_params.schema)
    (id_column,) = project_params.schema.ids
    for record, value in zip(out[:15], rows[id_column].head(15), strict=True):
        record[id_column] = int(value)  # the sample's ids are integers
    return out


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prediction-log") / "predictions"


@pytest.fixture(scope="module")
def logged_server(built_bento: BuiltBento, log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bento served with its prediction log in ``log_dir``."""
    env = built_bento.env | {ENV_VAR: str(log_dir)}
    with serve(built_bento.tag, env, tmp_path_factory.mktemp("serve-logged")) as running:
        yield running


def test_the_log_holds_exactly_the_scored_records_with_schema_fields_only(
    logged_server: Server, log_dir: Path, records: list[dict[str, Any]], project_params: Params
) -> None:
    schema = project_params.schema
    refused = predict(logged_server, [records[0] | {"hour": 99}])
    assert refused.status_code == 400
    sent: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
    for chunk in (records[:1], records[1:11], records[11:]):
        response = predict(logged_server, chunk)
        assert response.status_code == 200, response.text
        request_id = response.headers["x-bentoml-request-id"]
        sent[request_id] = (chunk, response.json())
    assert len(sent) == 3

    def ours() -> list[dict[str, Any]] | None:
        found = [entry for entry in logged_records(log_dir) if entry["request_id"] in sent]
        return found if len(found) >= len(records) else None

    logged = eventually(ours, f"{len(records)} logged records for requests {sorted(sent)}")
    assert len(logged) == len(records)
    lines = [entry for entry in log_lines(log_dir) if entry["request_id"] in sent]
    assert sorted(entry["request_id"] for entry in lines) == sorted(sent)  # one line per request
    assert refused.headers.get("x-bentoml-request-id") not in {entry["request_id"] for entry in log_lines(log_dir)}
    positions = dict.fromkeys(sent, 0)
    for entry in logged:
        chunk, body = sent[entry["request_id"]]
        index = positions[entry["request_id"]]
        positions[entry["request_id"]] += 1
        record, prediction = chunk[index], body["predictions"][index]
        assert set(entry) == KEYS
        assert entry["model_version"] == body["model_version"]
        assert entry["score"] == prediction["probability"]
        assert entry["label"] == (schema.positive_class if prediction["label"] == 1 else schema.negative_class)
        assert entry["features"] == {column: record[column] for column in schema.columns}
        assert entry["ids"] == {column: record.get(column) for column in schema.ids}
        assert entry["timestamp"].endswith("+00:00")
    assert positions == {request_id: len(chunk) for request_id, (chunk, _) in sent.items()}
    for entry in logged_records(log_dir):  # whatever else the module sent: still nothing outside the schema
        assert set(entry) == KEYS
        assert set(entry["features"]) == set(schema.columns)
        assert set(entry["ids"]) == set(schema.ids)


def test_every_metric_the_dashboard_queries_is_served(logged_server: Server, records: list[dict[str, Any]]) -> None:
    for chunk in (records[:5], records[5:6], records[6:20]):
        assert predict(logged_server, chunk).status_code == 200
    eventually(
        lambda: True if metric(metrics_page(logged_server), "gitops_ml_prediction_log_written_records_total") else None,
        "records counted as written to the prediction log",
    )
    page = metrics_page(logged_server)
    used = dashboard_metric_names(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    others = [name for task in Task if task is not Task.BINARY for name in TASK_METRICS[task]]
    others = [name for name in others if name not in TASK_METRICS[Task.BINARY]]
    other_tasks = {name for name in used if name.startswith(tuple(others))}  # served by other tasks' services
    assert other_tasks, "the dashboard shows no series of the other tasks"
    missing = used - other_tasks - served_names(page)
    assert not missing, f"the dashboard queries metrics /metrics does not serve: {sorted(missing)}"
    assert not other_tasks & served_names(page), "a binary service serves another task's series"
    assert metric(page, "gitops_ml_prediction_score_count") >= 20
    assert metric(page, "gitops_ml_model_call_records_count") >= 3
    assert metric(page, "gitops_ml_batch_queue_wait_seconds_count") >= 3
    predicted = metric(page, "gitops_ml_predictions_total", label="0") + metric(
        page, "gitops_ml_predictions_total", label="1"
    )
    assert predicted == metric(page, "gitops_ml_prediction_score_count")
    assert metric(page, "gitops_ml_prediction_log_dropped_records_total", reason="queue_full") == 0


def test_an_unwritable_log_location_costs_no_request(
    built_bento: BuiltBento, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log directory should be")
    env = built_bento.env | {ENV_VAR: str(blocker / "predictions")}
    with serve(built_bento.tag, env, tmp_path) as server:
        for chunk in (records[:4], records[4:5], records[5:12]):
            response = predict(server, chunk)
            assert response.status_code == 200, response.text
            assert len(response.json()["predictions"]) == len(chunk)

        def dropped() -> float | None:
            count = metric(metrics_page(server), "gitops_ml_prediction_log_dropped_records_total", reason="write_error")
            return count if count >= 12 else None

        assert eventually(dropped, "12 records counted as dropped for write_error") == 12
        assert metric(metrics_page(server), "gitops_ml_prediction_log_written_records_total") == 0
        log = server.log.read_text()
    assert log.count("prediction log: cannot write") == 1, log[-3000:]
    assert blocker.is_file()


def test_a_log_to_an_fsspec_url_is_uploaded_when_the_server_stops(
    built_bento: BuiltBento, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    bucket = tmp_path / "bucket" / "predictions"
    env = built_bento.env | {ENV_VAR: f"file://{bucket}"}
    request_ids = []
    with serve(built_bento.tag, env, tmp_path) as server:
        for chunk in (records[:3], records[3:8]):
            response = predict(server, chunk)
            assert response.status_code == 200, response.text
            request_ids.append(response.headers["x-bentoml-request-id"])
        assert not bucket.exists()  # the open file is uploaded only once closed
    uploaded = sorted(bucket.iterdir())
    assert [path.suffix for path in uploaded] == [".jsonl"]
    entries = logged_records(bucket)
    assert [entry["request_id"] for entry in entries] == [request_ids[0]] * 3 + [request_ids[1]] * 5
    assert [entry["features"]["amount"] for entry in entries] == [record["amount"] for record in records[:8]]
