"""ASGI middleware of the service: bearer-token authentication with roles (when ``GITOPS_ML_AUTH=on``).

Who may call what (:data:`SERVICE_POLICY`):

============================================  ==========================================================
path                                          needs
============================================  ==========================================================
``/livez``, ``/healthz``, ``/readyz``          nothing: orchestrator probes carry no token
``/predict``                                  role ``predict``
``/metrics``                                  role ``metrics`` (Prometheus scrapes with such a token)
``/docs.json``, ``/schema.json``, ``/``,       role ``predict``: the API's documentation is for its callers,
``/static_content/...``                       and it spells out the model's features and their ranges
anything else                                 role ``admin``: a route added later stays closed until it
                                              is listed here
============================================  ==========================================================

``admin`` may do everything. No token, a malformed ``Authorization`` header (empty, another scheme, several
headers, non-ASCII bytes, longer than :data:`MAX_TOKEN_CHARS`) or an unknown token: 401 with
``WWW-Authenticate: Bearer``. A known token without the role: 403. Both answers are JSON naming the
``Authorization`` field. The token is never logged or echoed; BentoML's access log records only the status.

Registered before the service's other middleware, so an unauthenticated caller learns nothing else (not even
that its body would have been refused).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gitops_ml.serving.middleware import ASGIApp, Receive, Scope, Send, send_json
from gitops_ml.serving.tokens import Role, TokenStore

REALM = "gitops-ml"
MAX_TOKEN_CHARS = 512  # tokens from `make token` have 47; anything this long is not one, and is not hashed
# RFC 6750 b64token: what may follow "Bearer " in the header.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class AccessPolicy:
    """Which role each path needs: ``open`` paths need none, ``roles`` by exact path, then by prefix, else
    ``default``."""

    open: frozenset[str]
    roles: Mapping[str, Role]
    prefixes: Mapping[str, Role] = field(default_factory=dict)
    default: Role = Role.ADMIN

    def needs(self, path: str) -> Role | None:
        """The role ``path`` needs, or None when it is open to everyone."""
        if path in self.open:
            return None
        if path in self.roles:
            return self.roles[path]
        for prefix, role in self.prefixes.items():
            if path.startswith(prefix):
                return role
        return self.default


SERVICE_POLICY = AccessPolicy(
    open=frozenset({"/livez", "/healthz", "/readyz"}),
    roles={
        "/predict": Role.PREDICT,
        "/metrics": Role.METRICS,
        "/docs.json": Role.PREDICT,
        "/schema.json": Role.PREDICT,
        "/": Role.PREDICT,
    },
    prefixes={"/static_content/": Role.PREDICT},
)


@dataclass(frozen=True)
class Credentials:
    """What the ``Authorization`` header held: a token, or why there is none (``missing`` or ``malformed``)."""

    token: str | None
    problem: str = ""


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> Credentials:
    """The bearer token of a request's raw ASGI ``headers``; never raises, whatever the bytes."""
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if not values:
        return Credentials(None, "missing")
    if len(values) > 1 or len(values[0]) > MAX_TOKEN_CHARS + len("Bearer "):
        return Credentials(None, "malformed")
    try:
        text = values[0].decode("ascii")
    except UnicodeDecodeError:
        return Credentials(None, "malformed")
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _B64TOKEN.fullmatch(token):
        return Credentials(None, "missing" if not text.strip() else "malformed")
    return Credentials(token)


class BearerAuth:
    """Let a request through only with a bearer token whose role the path needs (:class:`AccessPolicy`)."""

    def __init__(self, app: ASGIApp, tokens: TokenStore, policy: AccessPolicy = SERVICE_POLICY) -> None:
        """Wrap ``app``; ``tokens`` are the accepted tokens with their roles."""
        self.app = app
        self.tokens = tokens
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 401/403 without reading its body."""
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)  # lifespan
            return
        path = str(scope.get("path", ""))
        needed = self.policy.needs(path)
        if needed is None:
            await self.app(scope, receive, send)
            return
        credentials = bearer_token(scope.get("headers", ()))
        role = self.tokens.role_of(credentials.token) if credentials.token is not None else None
        if role is not None and role.allows(needed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
            return
        if role is not None:
            await _deny(
                send,
                403,
                f"a token of role {role.value} may not use {path}: it needs role {needed.value} (or admin)",
                f'Bearer realm="{REALM}", error="insufficient_scope"',
            )
        elif credentials.problem == "missing":
            await _deny(
                send,
                401,
                f"{path} needs a bearer token of role {needed.value}: send the header "
                "'Authorization: Bearer <token>' (`make token ROLE=...` creates one)",
                f'Bearer realm="{REALM}"',
            )
        elif credentials.problem == "malformed":
            await _deny(
                send,
                401,
                "malformed Authorization header: expected one header 'Authorization: Bearer <token>'",
                f'Bearer realm="{REALM}", error="invalid_request"',
            )
        else:
            await _deny(send, 401, "unknown or revoked token", f'Bearer realm="{REALM}", error="invalid_token"')


async def _deny(send: Send, status: int, message: str, challenge: str) -> None:
    content = {"error": message, "field": "Authorization"}
    await send_json(send, status, content, headers=[(b"www-authenticate", challenge.encode())])
