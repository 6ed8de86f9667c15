"""The auth middleware's pieces: the access policy and reading the token from raw header bytes.

The middleware itself is tested over real HTTP in test_auth_http.py (and against the container in tests/image).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops_ml.serving.auth import MAX_TOKEN_CHARS, SERVICE_POLICY, Credentials, bearer_token
from gitops_ml.serving.tokens import Role, new_token


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/livez", None),
        ("/healthz", None),
        ("/readyz", None),
        ("/predict", Role.PREDICT),
        ("/metrics", Role.METRICS),
        ("/docs.json", Role.PREDICT),
        ("/schema.json", Role.PREDICT),
        ("/", Role.PREDICT),
        ("/static_content/swagger-ui.css", Role.PREDICT),
        ("/predict/", Role.ADMIN),
        ("/livez/", Role.ADMIN),
        ("/metrics/extra", Role.ADMIN),
        ("/anything-new", Role.ADMIN),
        ("", Role.ADMIN),
    ],
)
def test_policy(path: str, role: Role | None) -> None:
    assert SERVICE_POLICY.needs(path) is role


def header(value: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"x"), (b"authorization", value)]


def test_a_bearer_token_is_read() -> None:
    token = new_token()
    for value in (f"Bearer {token}", f"bearer {token}", f"BEARER   {token}  ", f"  Bearer {token}"):
        assert bearer_token(header(value.encode())) == Credentials(token)
    assert bearer_token([(b"Authorization", f"Bearer {token}".encode())]) == Credentials(token)


def test_no_header_is_missing() -> None:
    assert bearer_token([(b"host", b"x")]) == Credentials(None, "missing")
    assert bearer_token(header(b"")) == Credentials(None, "missing")
    assert bearer_token(header(b"   ")) == Credentials(None, "missing")


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer",
        b"Bearer ",
        b"Basic dXNlcjpwYXNz",
        b"Token gml_abc",
        b"gml_abc",
        b"Bearer gml_abc extra",
        b"Bearer gml_\xc3\xa9",
        b"Bearer \xff\xfe",
        b"Bearer gml_\x00abc",
        b"Bearer a=b",
        b"Bearer " + b"a" * (MAX_TOKEN_CHARS + 1),
    ],
)
def test_malformed_headers(value: bytes) -> None:
    assert bearer_token(header(value)) == Credentials(None, "malformed")


def test_the_longest_accepted_token() -> None:
    assert bearer_token(header(b"Bearer " + b"a" * MAX_TOKEN_CHARS)).token == "a" * MAX_TOKEN_CHARS


def test_two_headers_are_malformed_even_when_equal() -> None:
    value = f"Bearer {new_token()}".encode()
    assert bearer_token([(b"authorization", value), (b"authorization", value)]) == Credentials(None, "malformed")


@given(st.binary(max_size=2000))
def test_any_header_bytes_give_a_token_or_a_reason(value: bytes) -> None:
    credentials = bearer_token(header(value))
    if credentials.token is None:
        assert credentials.problem in {"missing", "malformed"}
    else:
        assert value.decode("ascii").strip().lower().startswith("bearer ")
        assert credentials.token.isascii()
        assert 0 < len(credentials.token) <= MAX_TOKEN_CHARS
