"""ASGI middleware of the service: bounded path labels, and request bodies that are not JSON refused early.

**Path labels** (:class:`RouteLabels`, :class:`RestorePath`). BentoML's request metrics label every request with
its path, and its access log and tracing use it too, for requests refused with 401 or 404 as well: anyone could
grow ``/metrics``, the workers' memory and the multiprocess metric files without bound by calling random paths
(12,000 requests grew a worker by 420 MB), and write a newline into the access log. :class:`RouteLabels` runs
outside BentoML's middleware (:func:`gitops_ml.adapters.bentoml_server.wrap_app`) and shows them the route's
template instead: ``/predict``, ``/static_content/{path}``, and :data:`UNROUTED` for every path the service does
not have. :class:`RestorePath`, the service's first middleware, puts the real path back before anything routes
or answers the request.

**JSON bodies** (:class:`JsonBodyOnly`). BentoML picks a parser from the ``Content-Type`` header; a
``multipart/form-data`` header without a boundary makes that parser fail with a 500, and a form-encoded body
(curl's default without ``-H``) gives a confusing 400. Answering 415 with the fix in the message is clearer for a
caller, and the server never answers 5xx for it.
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
UNROUTED = "/{unrouted}"
"""The path BentoML's metrics, access log and tracing see for a request to a path the service does not have."""
RAW_PATH = "gitops_ml.raw_path"
"""Where :class:`RouteLabels` keeps the request's real path in the ASGI scope for :class:`RestorePath`."""


class RouteLabels:
    """Outermost layer: the path BentoML's own middleware sees is the matching route's template, or :data:`UNROUTED`.

    ``app`` is the Starlette application BentoML built; its routes are read at the first request (all are added
    by then). A path equal to a route's path costs one dictionary look-up; any other path is matched against the
    routes as Starlette would (a route matched but for the method is still that route).
    """

    def __init__(self, app: Any) -> None:
        """Wrap ``app``, a Starlette application (it has ``routes``)."""
        self.app = app
        self._exact: dict[str, str] | None = None
        self._routes: list[tuple[Any, str]] = []

    def _label(self, scope: Scope) -> str:
        from starlette.routing import Match, Mount

        if self._exact is None:
            routes = list(getattr(self.app, "routes", ()))
            self._routes = [
                (route, f"{route.path}/{{path}}" if isinstance(route, Mount) else str(getattr(route, "path", "")))
                for route in routes
            ]
            self._exact = {label: label for route, label in self._routes if not isinstance(route, Mount)}
        label = self._exact.get(scope.get("path", ""))
        if label is not None:
            return label
        for route, template in self._routes:
            if template and route.matches(scope)[0] is not Match.NONE:
                return template
        return UNROUTED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Show BentoML's middleware the route's template as the path; keep the real one for :class:`RestorePath`."""
        if scope["type"] in ("http", "websocket"):
            path = scope.get("path", "")
            label = self._label(scope)
            if label != path:
                scope[RAW_PATH] = path
                scope["path"] = label
        await self.app(scope, receive, send)


class RestorePath:
    """The service's first middleware: put back the real path :class:`RouteLabels` replaced for BentoML's layers."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Restore ``scope["path"]`` (if it was replaced) and pass the request on."""
        raw = scope.pop(RAW_PATH, None)
        if raw is not None:
            scope["path"] = raw
        await self.app(scope, receive, send)


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
    await send_json(
        send,
        415,
        {
            "error": f"unsupported Content-Type {media_type!r}: send the body as JSON "
            "with the header 'Content-Type: application/json'",
            "field": "Content-Type",
        },
    )


async def send_json(
    send: Send, status: int, content: Any, headers: Iterable[tuple[bytes, bytes]] = (), body: bytes | None = None
) -> None:
    """Answer with ``content`` as JSON (or ``body``, JSON already encoded) and ``headers`` besides its type and
    length: the one place the service's own layers write an answer."""
    encoded = json.dumps(content).encode() if body is None else body
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(encoded)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": encoded})
