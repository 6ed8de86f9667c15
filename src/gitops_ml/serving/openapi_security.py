"""Document the bearer scheme in the service's OpenAPI spec (``/docs.json``) when authentication is on.

BentoML 1.4 generates the spec itself and its spec model has no ``securitySchemes`` or ``security`` fields, so
this middleware rewrites the generated JSON on its way out: :func:`with_bearer_scheme` adds the ``bearerAuth``
scheme, marks each protected operation with it (naming the role in ``x-required-role`` and adding the 401 and
403 answers) and marks the open probes with ``security: []``. With authentication off it is not installed,
so the spec never claims a protection the service does not apply.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from gitops_ml.serving.auth import AccessPolicy
from gitops_ml.serving.middleware import ASGIApp, Message, Receive, Scope, Send

SCHEME_NAME = "bearerAuth"
SPEC_PATH = "/docs.json"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def with_bearer_scheme(spec: Mapping[str, Any], policy: AccessPolicy) -> dict[str, Any]:
    """A copy of the OpenAPI ``spec`` that documents the bearer scheme for every operation ``policy`` covers."""
    result = copy.deepcopy(dict(spec))
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SCHEME_NAME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `make token ROLE=<role>` (roles: predict, metrics, admin; admin may do "
        "everything), sent as 'Authorization: Bearer <token>'. No or an unknown token: 401; a token without "
        "the operation's role: 403.",
    }
    for path, item in result.get("paths", {}).items():
        role = policy.needs(path)
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if role is None:
                operation["security"] = []
                continue
            operation["security"] = [{SCHEME_NAME: []}]
            operation["x-required-role"] = role.value
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", {"description": "No bearer token, a malformed one, or an unknown one."})
            responses.setdefault("403", {"description": f"The token's role is not {role.value} (or admin)."})
    return result


class DocumentBearerScheme:
    """Rewrite the JSON answer of ``GET /docs.json`` with :func:`with_bearer_scheme`."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        """Wrap ``app``; ``policy`` says which paths need which role."""
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass every other request through untouched; buffer the spec's answer and send it rewritten."""
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != SPEC_PATH:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _send_rewritten(send, start, b"".join(chunks), self.policy)

        await self.app(scope, receive, buffer)


async def _send_rewritten(send: Send, start: Message, body: bytes, policy: AccessPolicy) -> None:
    if start.get("status") == 200:
        try:
            spec = json.loads(body)
        except ValueError:
            spec = None  # not JSON: BentoML's own answer goes out as it is
        if isinstance(spec, dict):
            body = json.dumps(with_bearer_scheme(spec, policy)).encode()
    headers = [(name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
