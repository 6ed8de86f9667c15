"""ASGI middleware of the service: refuse request bodies that are not JSON before BentoML parses them.

BentoML picks a parser from the ``Content-Type`` header; a ``multipart/form-data`` header without a boundary
makes that parser fail with a 500, and a form-encoded body (curl's default without ``-H``) gives a confusing
400. Answering 415 with the fix in the message is clearer for a caller, and the server never answers 5xx for it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_TYPES = frozenset({"", "application/json"})  # no header: BentoML reads JSON


class JsonBodyOnly:
    """Answer 415 to a POST on ``paths`` whose ``Content-Type`` is set and is not ``application/json``."""

    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        """Wrap ``app``; only requests to ``paths`` are checked."""
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 415 without reading its body."""
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in self.paths:
            media_type = _content_type(scope).split(";")[0].strip().lower()
            if media_type not in JSON_TYPES:
                await _reject(send, media_type)
                return
        await self.app(scope, receive, send)


def _content_type(scope: Scope) -> str:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", ())
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1")
    return ""


async def _reject(send: Send, media_type: str) -> None:
    body = json.dumps(
        {
            "error": f"unsupported Content-Type {media_type!r}: send the body as JSON "
            "with the header 'Content-Type: application/json'",
            "field": "Content-Type",
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 415, "headers": headers})
    await send({"type": "http.response.body", "body": body})
