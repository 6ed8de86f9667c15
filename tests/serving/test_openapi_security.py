"""The bearer scheme written into the OpenAPI spec, and the middleware that rewrites ``/docs.json``.

The middleware runs here around a small ASGI app that answers in chunks (BentoML's own spec is checked over
real HTTP in test_auth_http.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gitops_ml.serving.auth import SERVICE_POLICY
from gitops_ml.serving.middleware import Message, Receive, Scope, Send
from gitops_ml.serving.openapi_security import DocumentBearerScheme, with_bearer_scheme

SPEC: dict[str, Any] = {
    "openapi": "3.0.2",
    "components": {"schemas": {"Input": {"type": "object"}}},
    "paths": {
        "/predict": {"post": {"responses": {"200": {"description": "ok"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/livez": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/readyz": {"get": {"responses": {"200": {"description": "ok"}}}},
    },
}


def test_the_scheme_and_each_operations_requirement() -> None:
    spec = with_bearer_scheme(SPEC, SERVICE_POLICY)
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["components"]["schemas"] == SPEC["components"]["schemas"]
    predict = spec["paths"]["/predict"]["post"]
    assert predict["security"] == [{"bearerAuth": []}]
    assert predict["x-required-role"] == "predict"
    assert set(predict["responses"]) == {"200", "401", "403"}
    assert spec["paths"]["/metrics"]["get"]["x-required-role"] == "metrics"
    assert spec["paths"]["/livez"]["get"]["security"] == []
    assert "401" not in spec["paths"]["/readyz"]["get"]["responses"]
    assert "securitySchemes" not in SPEC["components"]  # the input is not modified


def test_a_spec_without_components_gets_them() -> None:
    spec = with_bearer_scheme({"paths": {}}, SERVICE_POLICY)
    assert "bearerAuth" in spec["components"]["securitySchemes"]


async def _spec_in_chunks(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(SPEC).encode() if scope["path"] == "/docs.json" else b"other"
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body[:10], "more_body": True})
    await send({"type": "http.response.body", "body": body[10:]})


def call(path: str, method: str = "GET") -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    app = DocumentBearerScheme(_spec_in_chunks, SERVICE_POLICY)
    asyncio.run(app({"type": "http", "method": method, "path": path, "headers": []}, receive, send))
    return sent


def test_the_middleware_rewrites_the_spec_with_a_correct_length() -> None:
    start, *bodies = call("/docs.json")
    body = b"".join(message["body"] for message in bodies)
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert [name for name, _ in start["headers"]].count(b"content-length") == 1
    assert json.loads(body) == with_bearer_scheme(SPEC, SERVICE_POLICY)


def test_the_middleware_leaves_other_requests_alone() -> None:
    for path, method in (("/predict", "GET"), ("/docs.json", "POST")):
        sent = call(path, method)
        assert [message.get("more_body", False) for message in sent[1:]] == [True, False]
