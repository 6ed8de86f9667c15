"""The path BentoML's own middleware sees is a route's template or one fixed name; the app sees the real path.

A real Starlette application with a route and a mount, a spy in BentoML's place (between :class:`RouteLabels`
and :class:`RestorePath`) and one in the service's, called through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from gitops_ml.serving.middleware import UNROUTED, RestorePath, RouteLabels


class Client:
    """Requests to an ASGI app, one at a time (httpx's ASGI transport, run to completion)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, path: str) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
                return await client.request(method, path)

        return asyncio.run(send())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str) -> httpx.Response:
        return self.request("POST", path)


class Spy:
    """Records the path each request shows it."""

    def __init__(self, app: Any, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def spied() -> tuple[Client, list[str], list[str]]:
    """The client, the paths BentoML's middleware would see, the paths the service's middleware sees."""
    outer: list[str] = []
    inner: list[str] = []

    async def echo(request: Any) -> PlainTextResponse:
        return PlainTextResponse(request.url.path)

    app = Starlette(
        routes=[Route("/predict", echo, methods=["POST"]), Mount("/static", routes=[Route("/{name}", echo)])],
        middleware=[Middleware(Spy, seen=outer), Middleware(RestorePath), Middleware(Spy, seen=inner)],
    )
    return Client(RouteLabels(app)), outer, inner


def test_a_route_keeps_its_path_and_other_paths_share_one_name(spied: tuple[Client, list[str], list[str]]) -> None:
    client, outer, inner = spied
    assert client.post("/predict").text == "/predict"
    assert client.get("/predict").status_code == 405  # matched but for the method: still the route
    assert client.get("/static/a%20b").text == "/static/a b"
    for path in ("/nowhere", "/x%0aFORGED", "/predict/extra", "/%00"):
        assert client.get(path).status_code == 404
    assert outer == ["/predict", "/predict", "/static/{path}", *[UNROUTED] * 4]
    assert inner == ["/predict", "/predict", "/static/a b", "/nowhere", "/x\nFORGED", "/predict/extra", "/\x00"]


def test_many_random_paths_give_one_label(spied: tuple[Client, list[str], list[str]]) -> None:
    client, outer, _ = spied
    for i in range(200):
        client.get(f"/random-{i}")
    assert set(outer) == {UNROUTED}
