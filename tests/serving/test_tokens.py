"""Tokens: creation, hash lines, the tokens-file format and its errors, the role lookup."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops_ml.serving.tokens import (
    Role,
    TokenEntry,
    TokenFileError,
    TokenStore,
    hash_line,
    new_token,
    parse_tokens,
)

SOURCE = "tokens file /etc/gitops-ml/tokens/tokens"


def test_new_tokens_are_long_random_and_header_safe() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"gml_[A-Za-z0-9_-]{43}", token), token


def test_hash_line_is_role_and_sha256_of_the_token() -> None:
    token = new_token()
    assert hash_line(token, Role.METRICS) == f"metrics sha256:{hashlib.sha256(token.encode()).hexdigest()}"


@given(st.sampled_from(list(Role)))
def test_a_hash_line_parses_back_to_its_role(role: Role) -> None:
    token = new_token()
    (entry,) = parse_tokens(hash_line(token, role), SOURCE)
    assert entry == TokenEntry(role=role, digest=hashlib.sha256(token.encode()).digest())
    assert TokenStore((entry,)).role_of(token) is role


def test_comments_blank_lines_and_upper_case_hex_are_accepted() -> None:
    predict, admin = new_token(), new_token()
    text = "\n".join(
        [
            "# tokens of the service",
            "",
            f"{hash_line(predict, Role.PREDICT)}   # ci smoke test",
            "   ",
            hash_line(admin, Role.ADMIN).upper().replace("ADMIN", "admin").replace("SHA256", "sha256"),
            "",
        ]
    )
    store = TokenStore(parse_tokens(text, SOURCE))
    assert len(store) == 2
    assert store.role_of(predict) is Role.PREDICT
    assert store.role_of(admin) is Role.ADMIN
    assert store.role_of(new_token()) is None
    assert store.role_of("") is None


def test_windows_line_endings_are_accepted() -> None:
    token = new_token()
    assert TokenStore(parse_tokens(hash_line(token, Role.METRICS) + "\r\n", SOURCE)).role_of(token) is Role.METRICS


def test_empty_text_has_no_entries() -> None:
    assert parse_tokens("", SOURCE) == ()
    assert parse_tokens("# only a comment\n\n", SOURCE) == ()


GOOD = f"predict sha256:{'a' * 64}"
BAD_LINES = {
    "one field": ("predict", "line 2: expected '<role> sha256:<64 hex digits>' (2 fields), found 1"),
    "three fields": (f"{GOOD} extra", "line 2: expected '<role> sha256:<64 hex digits>' (2 fields), found 3"),
    "unknown role": (
        f"root sha256:{'b' * 64}",
        "line 2: unknown role (the first field); roles are predict, metrics, admin",
    ),
    "role in capitals": (f"PREDICT sha256:{'b' * 64}", "line 2: unknown role"),
    "no sha256 prefix": (f"predict {'b' * 64}", "line 2: the second field is not 'sha256:' and 64 hex digits"),
    "short digest": (f"predict sha256:{'b' * 63}", "line 2: the second field is not 'sha256:'"),
    "not hex": (f"predict sha256:{'g' * 64}", "line 2: the second field is not 'sha256:'"),
    "another algorithm": (f"predict md5:{'b' * 32}", "line 2: the second field is not 'sha256:'"),
    "same token twice": (f"admin sha256:{'a' * 64}", "line 2: the same token as line 1; list each token once"),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_bad_line_is_named_with_its_source_and_number(case: str) -> None:
    line, message = BAD_LINES[case]
    with pytest.raises(TokenFileError) as raised:
        parse_tokens(f"{GOOD}\n{line}\n", SOURCE)
    assert str(raised.value).startswith(f"{SOURCE} {message}")


def test_a_token_pasted_instead_of_its_hash_is_never_repeated() -> None:
    token = new_token()
    for text in (f"predict {token}", token, f"{token} predict", f"predict sha256:{token}"):
        with pytest.raises(TokenFileError) as raised:
            parse_tokens(text, SOURCE)
        assert token not in str(raised.value)
        assert token.removeprefix("gml_") not in str(raised.value)


def test_admin_allows_everything_other_roles_only_themselves() -> None:
    for needed in Role:
        assert Role.ADMIN.allows(needed)
    assert Role.PREDICT.allows(Role.PREDICT)
    assert not Role.PREDICT.allows(Role.METRICS)
    assert not Role.PREDICT.allows(Role.ADMIN)
    assert Role.METRICS.allows(Role.METRICS)
    assert not Role.METRICS.allows(Role.PREDICT)


@given(st.text(max_size=200))
def test_any_presented_string_is_looked_up_without_error(presented: str) -> None:
    token = new_token()
    store = TokenStore(parse_tokens(hash_line(token, Role.PREDICT), SOURCE))
    assert store.role_of(presented) is (Role.PREDICT if presented == token else None)


def test_an_empty_store_knows_no_token() -> None:
    assert TokenStore(()).role_of(new_token()) is None
