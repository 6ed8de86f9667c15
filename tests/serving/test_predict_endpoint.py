"""The layer that answers ``POST /predict`` ahead of BentoML, called in process through httpx's ASGI transport.

The request model is the one the service builds from the fixture project's contract, the authentication layer is
the service's, the metrics are the service's in a fresh registry. The service instance is a small class of this
file with the two methods the endpoint calls, so the paths the real service rarely takes (not bound yet, a fault
while answering) can be driven. The same endpoint behind ``bentoml serve`` is tested in test_service_http.py,
test_auth_http.py and test_monitoring_http.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from gitops_ml.config import load_params
from gitops_ml.serving.auth import SERVICE_POLICY, BearerAuth
from gitops_ml.serving.metrics import RequestMetrics
from gitops_ml.serving.middleware import ASGIApp
from gitops_ml.serving.predict_endpoint import NOT_READY, SERVER_ERROR, PredictEndpoint
from gitops_ml.serving.schema import example_record, request_model
from gitops_ml.serving.tokens import Role, TokenEntry, TokenStore, new_token, token_digest
from tests.support.fixture_project import FIXTURE_PARAMS

PARAMS = load_params(FIXTURE_PARAMS)
_, REQUEST = request_model(PARAMS)
RECORD = example_record(PARAMS.schema)


class Answer(BaseModel):
    scored: int
    request_id: str


class Service:
    """Answers with how many records it got; ``fail`` makes it raise, ``ready`` False makes it not ready."""

    def __init__(self, ready: bool = True, fail: bool = False) -> None:
        self.ready, self.fail = ready, fail
        self.request_ids: list[str] = []

    def is_ready(self) -> bool:
        return self.ready

    async def answer(self, records: Sequence[Any], request_id: str) -> BaseModel:
        if self.fail:
            raise RuntimeError("the model call failed")
        self.request_ids.append(request_id)
        return Answer(scored=len(records), request_id=request_id)


async def bento_app(scope: Any, receive: Any, send: Any) -> None:
    """BentoML's place: answers 299 with the method and path it got."""
    body = f"{scope['method']} {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 299, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def request(app: ASGIApp, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 5123))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(send())


def endpoint(service: Service | None, tokens: TokenStore | None = None) -> tuple[PredictEndpoint, RequestMetrics]:
    metrics = RequestMetrics(CollectorRegistry())
    authenticate = None
    if tokens is not None:

        def authenticate(app: ASGIApp) -> ASGIApp:
            return BearerAuth(app, tokens=tokens, policy=SERVICE_POLICY)

    layer = PredictEndpoint(REQUEST, metrics, authenticate).in_front_of(bento_app)
    if service is not None:
        layer.bind(service)
    return layer, metrics


def answered(metrics: RequestMetrics, status: int) -> float:
    return metrics.answered.labels(str(status))._value.get()


def test_a_valid_request_is_answered_with_an_id_that_reaches_the_service() -> None:
    service = Service()
    layer, metrics = endpoint(service)
    response = request(layer, "POST", "/predict", json={"records": [RECORD, RECORD]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    request_id = response.headers["x-bentoml-request-id"]
    assert len(request_id) == 16 and int(request_id, 16) >= 0
    assert response.json() == {"scored": 2, "request_id": request_id}
    assert service.request_ids == [request_id]
    again = request(layer, "POST", "/predict", json={"records": [RECORD]})
    assert again.headers["x-bentoml-request-id"] != request_id
    assert answered(metrics, 200) == 2
    assert metrics.in_progress._value.get() == 0


def test_other_requests_go_to_bentoml_untouched() -> None:
    layer, metrics = endpoint(Service())
    for method, path in (("GET", "/predict"), ("POST", "/predict/"), ("GET", "/readyz"), ("POST", "/other")):
        response = request(layer, method, path)
        assert (response.status_code, response.text) == (299, f"{method} {path}")
        assert "x-bentoml-request-id" not in response.headers
    assert answered(metrics, 200) == 0


def test_a_refused_body_gets_bentomls_400_listing_each_problem(caplog: pytest.LogCaptureFixture) -> None:
    layer, metrics = endpoint(Service())
    bad = RECORD | {"surprise": "x" * 500}
    with caplog.at_level(logging.INFO, logger="gitops_ml.serving"):
        response = request(layer, "POST", "/predict", json={"records": [bad]})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "1 validation error for PredictRequest"
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [(["records", 0, "surprise"], "extra_forbidden")]
    assert "input" not in body["detail"][0]  # the caller's values are not echoed
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "records.0.surprise" in warnings[0].getMessage()
    assert "x" * 100 not in warnings[0].getMessage() and warnings[0].exc_info is None
    assert answered(metrics, 400) == 1


@pytest.mark.parametrize(
    ("content", "kind"), [(b"", "missing"), (b'{"records": [', "json_invalid"), (b"[1]", "model_type")]
)
def test_an_empty_or_broken_body_is_a_400(content: bytes, kind: str) -> None:
    layer, _ = endpoint(Service())
    response = request(layer, "POST", "/predict", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert kind in [e["type"] for e in response.json()["detail"]]


def test_a_body_that_is_not_json_is_a_415_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    layer, metrics = endpoint(Service())
    with caplog.at_level(logging.INFO, logger="bentoml.access"):
        response = request(layer, "POST", "/predict", content=b"a", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["field"] == "Content-Type"
    assert answered(metrics, 415) == 1
    line = caplog.records[-1].getMessage()
    assert line.startswith("10.0.0.7:5123 (scheme=http,method=POST,path=/predict,type=text/plain,length=1)")
    assert "(status=415,type=application/json,length=" in line and line.endswith("ms")


def test_not_ready_until_the_service_is_bound_and_loaded() -> None:
    layer, metrics = endpoint(None)
    response = request(layer, "POST", "/predict", json={"records": [RECORD]})
    assert (response.status_code, response.json()) == (503, {"error": NOT_READY})
    service = Service(ready=False)
    layer.bind(service)
    assert request(layer, "POST", "/predict", json={"records": [RECORD]}).status_code == 503
    service.ready = True
    assert request(layer, "POST", "/predict", json={"records": [RECORD]}).status_code == 200
    assert answered(metrics, 503) == 2


def test_a_fault_of_the_service_is_a_generic_500_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    layer, metrics = endpoint(Service(fail=True))
    with caplog.at_level(logging.ERROR, logger="gitops_ml.serving"):
        response = request(layer, "POST", "/predict", json={"records": [RECORD]})
    assert (response.status_code, response.json()) == (500, {"error": SERVER_ERROR})
    assert "the model call failed" not in response.text
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert answered(metrics, 500) == 1
    assert metrics.in_progress._value.get() == 0


def test_with_authentication_a_request_needs_a_predict_token_and_refusals_are_counted() -> None:
    predict, metrics_only = new_token(), new_token()
    tokens = TokenStore(
        (TokenEntry(Role.PREDICT, token_digest(predict)), TokenEntry(Role.METRICS, token_digest(metrics_only)))
    )
    service = Service()
    layer, metrics = endpoint(service, tokens)
    body = {"records": [RECORD]}
    assert request(layer, "POST", "/predict", json=body).status_code == 401
    wrong_role = request(layer, "POST", "/predict", json=body, headers={"authorization": f"Bearer {metrics_only}"})
    assert wrong_role.status_code == 403 and wrong_role.json()["field"] == "Authorization"
    refused_body = request(layer, "POST", "/predict", content=b"{", headers={"content-type": "application/json"})
    assert refused_body.status_code == 401  # no token: the body is not even read
    ok = request(layer, "POST", "/predict", json=body, headers={"authorization": f"Bearer {predict}"})
    assert ok.status_code == 200
    assert (answered(metrics, 401), answered(metrics, 403), answered(metrics, 200)) == (2, 1, 1)
    assert len(service.request_ids) == 1
