"""The service's authentication checked over real HTTP, shared by the ``bentoml serve`` and container tests.

:func:`make_tokens` creates one token per role and writes their hash lines to a tokens file (the layout of the
Kubernetes Secret: a folder holding ``tokens``). :func:`matrix_failures` calls every endpoint as every kind of
caller and lists each answer that differs from :data:`EXPECTED`; :func:`malformed_header_failures` sends broken
``Authorization`` headers through a raw socket (an HTTP client refuses to send some of them) and lists any that
is not answered 401. Both return lists of failures so one assertion shows them all.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gitops_ml.serving.tokens import Role, hash_line, new_token

CALLERS = ("no token", "unknown token", "predict", "metrics", "admin")
ENDPOINTS = (("POST", "/predict"), ("GET", "/metrics"), ("GET", "/docs.json"), ("GET", "/livez"), ("GET", "/readyz"))
# Expected status by endpoint path, in the order of CALLERS.
EXPECTED: dict[str, tuple[int, ...]] = {
    "/predict": (401, 401, 200, 403, 200),
    "/metrics": (401, 401, 403, 200, 200),
    "/docs.json": (401, 401, 200, 403, 200),
    "/livez": (200, 200, 200, 200, 200),
    "/readyz": (200, 200, 200, 200, 200),
}
OVERSIZE_HEADER_BYTES = 256 * 1024  # beyond the HTTP server's header limit: refused by the parser, before the app


@dataclass(frozen=True)
class AuthTokens:
    """One token per role, an unknown token, and the tokens file that accepts the first three."""

    by_role: dict[Role, str]
    unknown: str
    file: Path

    def header(self, caller: str) -> dict[str, str]:
        """The headers a ``caller`` (one of :data:`CALLERS`) sends."""
        if caller == "no token":
            return {}
        token = self.unknown if caller == "unknown token" else self.by_role[Role(caller)]
        return {"Authorization": f"Bearer {token}"}

    def all_tokens(self) -> list[str]:
        """Every token the tests send (none may ever show up in a log)."""
        return [*self.by_role.values(), self.unknown]


def make_tokens(directory: Path) -> AuthTokens:
    """Tokens for every role, hashed into ``directory/tokens`` (world-readable: a container user reads it)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    by_role = {role: new_token() for role in Role}
    lines = ["# tokens of the auth tests", *(f"{hash_line(token, role)}  # {role}" for role, token in by_role.items())]
    path = directory / "tokens"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o644)
    return AuthTokens(by_role=by_role, unknown=new_token(), file=path)


def matrix_failures(
    url: str, tokens: AuthTokens, predict_body: Mapping[str, Any], verify: bool | str = True
) -> list[str]:
    """Every (caller, endpoint) whose answer is not the expected status, or whose 401/403 is malformed."""
    failures: list[str] = []
    with httpx.Client(base_url=url, timeout=30, verify=verify) as client:
        for method, path in ENDPOINTS:
            for caller, expected in zip(CALLERS, EXPECTED[path], strict=True):
                body = dict(predict_body) if method == "POST" else None
                response = client.request(method, path, json=body, headers=tokens.header(caller))
                where = f"{method} {path} as {caller}"
                if response.status_code != expected:
                    failures.append(f"{where}: {response.status_code}, expected {expected}: {response.text[:200]}")
                    continue
                failures += _answer_problems(where, response)
    return failures


def _answer_problems(where: str, response: httpx.Response) -> list[str]:
    problems = []
    challenge = response.headers.get("www-authenticate", "")
    if response.status_code == 401 and not challenge.startswith("Bearer "):
        problems.append(f"{where}: 401 without 'WWW-Authenticate: Bearer ...' (got {challenge!r})")
    if response.status_code == 403 and 'error="insufficient_scope"' not in challenge:
        problems.append(f'{where}: 403 without error="insufficient_scope" (got {challenge!r})')
    if response.status_code in {401, 403} and response.json().get("field") != "Authorization":
        problems.append(f"{where}: the error does not name the Authorization field: {response.text[:200]}")
    if response.status_code == 200 and where.startswith("POST /predict") and not response.json().get("predictions"):
        problems.append(f"{where}: 200 without predictions: {response.text[:200]}")
    return problems


REFUSED_BY_THE_PARSER = frozenset({"control character"})
"""Malformed headers that uvicorn's C parser (httptools) refuses with 400 before the app sees them (RFC 9110 allows
no control character in a field value); the pure-Python parser (h11) passes them on, and the app answers 401."""


def malformed_headers(tokens: AuthTokens) -> dict[str, list[bytes]]:
    """Broken ``Authorization`` header lines by name (several lines: several headers)."""
    valid = tokens.by_role[Role.PREDICT].encode()
    return {
        "empty": [b"Authorization:"],
        "blank": [b"Authorization:    "],
        "scheme only": [b"Authorization: Bearer"],
        "scheme and a space": [b"Authorization: Bearer "],
        "basic auth": [b"Authorization: Basic dXNlcjpwYXNzd29yZA=="],
        "valid token, wrong scheme": [b"Authorization: Token " + valid],
        "valid token, no scheme": [b"Authorization: " + valid],
        "valid token and more": [b"Authorization: Bearer " + valid + b" extra"],
        "valid token twice": [b"Authorization: Bearer " + valid, b"Authorization: Bearer " + valid],
        "huge (64 KiB)": [b"Authorization: Bearer " + b"a" * 65536],
        "non-ASCII bytes": [b"Authorization: Bearer \xff\xfe" + valid],
        "UTF-8 letters": [b"Authorization: Bearer gml_" + "é".encode() * 20],
        "control character": [b"Authorization: Bearer \x01" + valid],
    }


def raw_status(url: str, method: str, path: str, header_lines: list[bytes], body: bytes = b"") -> int | None:
    """Send one HTTP/1.1 request as raw bytes; the answer's status, or None when the server closed first."""
    parts = urlsplit(url)
    head = [f"{method} {path} HTTP/1.1".encode(), f"Host: {parts.netloc}".encode(), b"Connection: close"]
    if body:
        head += [b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
    request = b"\r\n".join([*head, *header_lines]) + b"\r\n\r\n" + body
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before reading it all
            sock.sendall(request)
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
    status_line = answer.split(b"\r\n", 1)[0].split()
    return int(status_line[1]) if len(status_line) >= 2 and status_line[1].isdigit() else None


def malformed_header_failures(url: str, tokens: AuthTokens, predict_body: Mapping[str, Any]) -> list[str]:
    """Each malformed header not refused on ``POST /predict`` (401, or 400 from the HTTP parser for those of
    :data:`REFUSED_BY_THE_PARSER`), and an oversized one answered 5xx."""
    body = json.dumps(predict_body).encode()
    failures = []
    for name, lines in malformed_headers(tokens).items():
        status = raw_status(url, "POST", "/predict", lines, body)
        expected = {400, 401} if name in REFUSED_BY_THE_PARSER else {401}
        if status not in expected:
            failures.append(f"{name}: {status}, expected {' or '.join(map(str, sorted(expected)))}")
    # Sanity check of the raw request itself: the same request with the valid token is served.
    valid = [b"Authorization: Bearer " + tokens.by_role[Role.PREDICT].encode()]
    if (status := raw_status(url, "POST", "/predict", valid, body)) != 200:
        failures.append(f"the raw request with a valid token: {status}, expected 200")
    oversize = [b"Authorization: Bearer " + b"a" * OVERSIZE_HEADER_BYTES]
    status = raw_status(url, "POST", "/predict", oversize, body)
    if status is not None and not 400 <= status < 500:
        failures.append(
            f"oversized header ({OVERSIZE_HEADER_BYTES} bytes): {status}, expected a 4xx or a closed connection"
        )
    return failures


def leaked_tokens(log: str, tokens: AuthTokens) -> list[str]:
    """The tokens (or their hash lines' digests) found in a log; names the role, never the token."""
    found = []
    for role, token in tokens.by_role.items():
        digest = hash_line(token, role).split(" ", 1)[1]
        if token in log or digest in log:
            found.append(role.value)
    if tokens.unknown in log:
        found.append("unknown token")
    return found
