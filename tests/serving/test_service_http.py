"""The built bento over real HTTP: predictions, bad input answered 400 naming the field, probes, metrics, fuzzing."""

from __future__ import annotations

import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import Params
from gitops_ml.model_call.compiled import TOLERANCE
from gitops_ml.model_io import load_model
from gitops_ml.pipeline.features import model_frame
from tests.support.serving import BuiltBento, Server, to_records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def records(test_rows: pd.DataFrame, project_params: Params) -> list[dict[str, Any]]:
    """60 hold-out rows as request records, plus a row with a null for each nullable column."""
    nullable = [name for name, spec in project_params.schema.columns.items() if spec.nullable]
    with_nulls = [test_rows[test_rows[name].isna()].head(1) for name in nullable]
    return to_records(pd.concat([test_rows.head(60), *with_nulls]), project_params.schema)


@pytest.fixture(scope="module")
def expected(records: list[dict[str, Any]], built_bento: BuiltBento, project_params: Params) -> np.ndarray:
    """Probabilities of the trained model for ``records``, computed here without the service."""
    model = load_model(built_bento.project / "models" / "model.skops")
    frame = model_frame(pd.DataFrame(records), project_params.schema)
    return model.predict_proba(frame)[:, 1]


def post(server: Server, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", json=body, timeout=30, **kwargs)


def test_records_include_nulls(records: list[dict[str, Any]], project_params: Params) -> None:
    nullable = [name for name, spec in project_params.schema.columns.items() if spec.nullable]
    assert all(any(record[name] is None for record in records) for name in nullable)


def test_valid_batch_gets_the_models_predictions(
    server: Server,
    records: list[dict[str, Any]],
    expected: np.ndarray,
    built_bento: BuiltBento,
    project_params: Params,
) -> None:
    response = post(server, {"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"predictions", "model_version"}
    assert body["model_version"] == built_bento.tag.split(":")[1]
    probabilities = np.array([p["probability"] for p in body["predictions"]])
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=TOLERANCE)  # the compiled path's tolerance
    threshold = project_params.evaluate.threshold
    labels = [p["label"] for p in body["predictions"]]
    assert labels == [int(p >= threshold) for p in expected]


def test_concurrent_requests_each_get_their_own_rows(
    server: Server, records: list[dict[str, Any]], expected: np.ndarray
) -> None:
    def one(index: int) -> float:
        response = post(server, {"records": [records[index]]})
        assert response.status_code == 200, response.text
        return response.json()["predictions"][0]["probability"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        got = list(pool.map(one, range(len(records))))
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def _mutate(record: dict[str, Any], change: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
    bad = copy.deepcopy(record) | change
    if drop:
        del bad[drop]
    return {"records": [record, bad]}


BAD_RECORDS = {
    "missing field": ({}, "hour", ["records", 1, "hour"], "missing"),
    "unknown field": ({"colour": "red"}, None, ["records", 1, "colour"], "extra_forbidden"),
    "number as string": ({"amount": "12.5"}, None, ["records", 1, "amount"], "float_type"),
    "fraction for an int": ({"hour": 3.5}, None, ["records", 1, "hour"], "int_from_float"),
    "int for a bool": ({"card_present": 1}, None, ["records", 1, "card_present"], "bool_type"),
    "null where not nullable": ({"amount": None}, None, ["records", 1, "amount"], "float_type"),
    "above the range": ({"hour": 24}, None, ["records", 1, "hour"], "less_than_equal"),
    "below the range": ({"amount": -0.01}, None, ["records", 1, "amount"], "greater_than_equal"),
    "unknown category": ({"channel": "carrier_pigeon"}, None, ["records", 1, "channel"], "literal_error"),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS), ids=list(BAD_RECORDS))
def test_bad_record_is_400_naming_the_field(server: Server, records: list[dict[str, Any]], case: str) -> None:
    change, drop, loc, kind = BAD_RECORDS[case]
    response = post(server, _mutate(records[0], change, drop))
    assert response.status_code == 400, response.text
    errors = response.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [(loc, kind)]
    assert errors[0]["msg"]


def test_empty_list_is_400(server: Server) -> None:
    response = post(server, {"records": []})
    assert response.status_code == 400
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["records"], "too_short")]


def test_more_records_than_the_limit_is_400(
    server: Server, records: list[dict[str, Any]], project_params: Params
) -> None:
    limit = project_params.serving.max_records
    response = post(server, {"records": [records[0]] * (limit + 1)})
    assert response.status_code == 400
    errors = response.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [(["records"], "too_long")]
    assert str(limit) in errors[0]["msg"]
    assert post(server, {"records": [records[0]] * limit}).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"rows": []}, ["records"], "missing"),
        ([1, 2], [], "model_type"),
        ({"records": {"amount": 1}}, ["records"], "list_type"),
    ],
    ids=["no records key", "not an object", "records not a list"],
)
def test_wrong_shape_is_400(server: Server, body: Any, loc: list[Any], kind: str) -> None:
    response = post(server, body)
    assert response.status_code == 400
    assert (loc, kind) in [(e["loc"], e["type"]) for e in response.json()["detail"]]


def test_unknown_top_level_key_is_400(server: Server, records: list[dict[str, Any]]) -> None:
    response = post(server, {"records": records[:1], "model": "other"})
    assert response.status_code == 400
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["model"], "extra_forbidden")]


def post_text(server: Server, text: str) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", content=text, headers={"Content-Type": "application/json"}, timeout=30)


@pytest.mark.parametrize("text", ['{"records": [', "records=1", "{'records': []}"])
def test_malformed_json_is_400(server: Server, text: str) -> None:
    response = post_text(server, text)
    assert response.status_code == 400, response.text
    assert [e["type"] for e in response.json()["detail"]] == ["json_invalid"]
    assert "Invalid JSON" in response.json()["detail"][0]["msg"]


def test_empty_body_is_400_naming_records(server: Server) -> None:
    response = post_text(server, "")
    assert response.status_code == 400, response.text
    assert (["records"], "missing") in [(e["loc"], e["type"]) for e in response.json()["detail"]]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_is_400(server: Server, records: list[dict[str, Any]], value: str) -> None:
    text = json.dumps({"records": [records[0] | {"amount": 1.5}]}).replace('"amount": 1.5', f'"amount": {value}')
    response = post_text(server, text)
    assert response.status_code == 400, response.text
    errors = response.json()["detail"]
    assert errors
    assert all(e["type"] == "json_invalid" or e["loc"][-1] == "amount" for e in errors)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain"])
def test_body_that_is_not_json_is_415_naming_the_header(
    server: Server, records: list[dict[str, Any]], content_type: str
) -> None:
    response = httpx.post(
        f"{server.url}/predict",
        content=json.dumps({"records": records[:1]}),
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == 415
    body = response.json()
    assert body["field"] == "Content-Type"
    assert "application/json" in body["error"]


def test_probes_and_docs(server: Server, records: list[dict[str, Any]]) -> None:
    assert httpx.get(f"{server.url}/livez", timeout=10).status_code == 200
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    spec = httpx.get(f"{server.url}/docs.json", timeout=10).json()
    request_schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in request_schema:
        request_schema = spec["components"]["schemas"][request_schema["$ref"].rsplit("/", 1)[1]]
    example = request_schema["example"]
    assert set(example["records"][0]) == set(records[0])
    assert post(server, example).status_code == 200  # the documented example is itself a valid request


def test_metrics_count_requests_and_latencies(server: Server, records: list[dict[str, Any]]) -> None:
    def sample(text: str, name: str, code: str) -> float:
        match = re.search(rf'{name}\{{http_response_code="{code}"\}} (\S+)', text)
        return float(match.group(1)) if match else 0.0

    def count(text: str, code: str) -> float:
        return sample(text, "gitops_ml_predict_requests_total", code)

    before = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert post(server, {"records": records[:2]}).status_code == 200
    assert post(server, {"records": []}).status_code == 400
    assert post_text(server, '{"records": [').status_code == 400
    after = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert count(after, "200") == count(before, "200") + 1
    assert count(after, "400") == count(before, "400") + 2
    for code, more in (("200", 1), ("400", 2)):  # every answer timed, by status
        seconds = "gitops_ml_predict_request_duration_seconds"
        assert sample(after, f"{seconds}_count", code) == sample(before, f"{seconds}_count", code) + more
        assert sample(after, f"{seconds}_sum", code) > sample(before, f"{seconds}_sum", code)
    assert "gitops_ml_predict_requests_in_progress 0.0" in after
    assert "gitops_ml_model_call_records_count" in after
    assert count(after, "500") == 0


def test_schema_driven_fuzzing_finds_no_server_error(server: Server, tmp_path: Path) -> None:
    from tests.support.projects import run

    result = run(
        [
            "schemathesis",
            "run",
            f"{server.url}/docs.json",
            "--checks",
            "not_a_server_error",
            "--include-path",
            "/predict",
            "--max-examples",
            "25",
            "--seed",
            "20261123",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "30",
        ],
        tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\d+ generated, \d+ passed", result.stdout), result.stdout[-3000:]


def test_invalid_input_is_logged_once_without_traceback_or_the_raw_value(
    server: Server, records: list[dict[str, Any]]
) -> None:
    """A refused /predict is one WARNING line naming the fields, values cut short, control characters escaped."""
    key = "colour-" + "K" * 300 + "\nFORGED-LINE [ERROR] fake"
    bad = {"records": [records[0] | {key: "red", "channel": "Z" * 5_000 + "\x00"}]}
    assert post(server, bad).status_code == 400
    assert post(server, {"records": []}).status_code == 400
    lines = server.log.read_text(encoding="utf-8", errors="replace").splitlines()
    mine = [line for line in lines if "colour-KKKK" in line]
    assert len(mine) == 1, lines[-40:]
    assert "[WARNING]" in mine[0] or "[INFO]" in mine[0], mine[0]
    assert "K" * 100 not in mine[0] and "Z" * 100 not in mine[0], mine[0]
    text = "\n".join(lines)
    assert not [line for line in lines if line.startswith("FORGED-LINE")]
    assert "Traceback" not in text  # no client error is logged with a traceback...
    assert not [line for line in lines if "[ERROR]" in line and "/predict" in line]  # ...or at ERROR
    assert "\x00" not in text


def test_server_is_still_healthy_after_all_that(server: Server, records: list[dict[str, Any]]) -> None:
    assert server.process.poll() is None
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    assert post(server, {"records": records[:3]}).status_code == 200
    access_log = server.log.read_text()
    assert "/predict" in access_log
    assert not re.findall(r"path=/predict[^\n]*\(status=5\d\d,", access_log)  # access log: no /predict 5xx


def test_release_smoke_test_passes_against_the_running_service(
    server: Server, records: list[dict[str, Any]], built_bento: BuiltBento
) -> None:
    """The command the release workflow runs against the pushed image, here against the bento it is built from."""
    from tests.support.projects import run

    version = post(server, {"records": records[:1]}).json()["model_version"]
    smoke = ["gitops-ml", "smoke-test", "--url", server.url, "--timeout", "30", "--expect-version"]
    assert "smoke test passed" in run([*smoke, version], built_bento.project).stdout
    wrong = run([*smoke, "model-v999"], built_bento.project, check=False)
    assert wrong.returncode == 1
    assert "model-v999" in wrong.stdout + wrong.stderr
