"""Authentication settings from the environment: the switch, the two token sources and every refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml.serving.auth_config import AuthConfigError, load_auth_settings
from gitops_ml.serving.tokens import Role, hash_line, new_token


def test_off_by_default_and_tokens_are_then_not_read() -> None:
    assert not load_auth_settings({}).enabled
    settings = load_auth_settings({"GITOPS_ML_AUTH": "off", "GITOPS_ML_TOKENS_FILE": "/nonexistent/tokens"})
    assert not settings.enabled
    assert settings.tokens is None


@pytest.mark.parametrize("value", ["on", "ON", " on\n"])
def test_on_with_a_tokens_file(tmp_path: Path, value: str) -> None:
    token = new_token()
    path = tmp_path / "tokens"
    path.write_text(hash_line(token, Role.PREDICT) + "\n", encoding="utf-8")
    settings = load_auth_settings({"GITOPS_ML_AUTH": value, "GITOPS_ML_TOKENS_FILE": str(path)})
    assert settings.enabled
    assert settings.tokens is not None
    assert settings.tokens.role_of(token) is Role.PREDICT
    assert str(path) in settings.source


def test_on_with_the_tokens_in_the_environment() -> None:
    predict, metrics = new_token(), new_token()
    text = f"{hash_line(predict, Role.PREDICT)}\n{hash_line(metrics, Role.METRICS)}"
    settings = load_auth_settings({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS": text})
    assert settings.tokens is not None
    assert settings.tokens.role_of(metrics) is Role.METRICS
    assert settings.source == "GITOPS_ML_TOKENS"


def refusal(environ: dict[str, str]) -> str:
    with pytest.raises(AuthConfigError) as raised:
        load_auth_settings(environ)
    return str(raised.value)


@pytest.mark.parametrize("value", ["yes", "true", "1", ""])
def test_an_unknown_switch_value_is_refused(value: str) -> None:
    assert refusal({"GITOPS_ML_AUTH": value}) == f"GITOPS_ML_AUTH must be 'on' or 'off', got {value!r}"


def test_on_without_tokens_is_refused() -> None:
    assert refusal({"GITOPS_ML_AUTH": "on"}).startswith("GITOPS_ML_AUTH=on needs tokens: set GITOPS_ML_TOKENS_FILE")
    assert "needs tokens" in refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": "", "GITOPS_ML_TOKENS": ""})


def test_both_sources_are_refused(tmp_path: Path) -> None:
    line = hash_line(new_token(), Role.PREDICT)
    (tmp_path / "tokens").write_text(line, encoding="utf-8")
    environ = {"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(tmp_path / "tokens"), "GITOPS_ML_TOKENS": line}
    assert refusal(environ) == "set GITOPS_ML_TOKENS_FILE or GITOPS_ML_TOKENS, not both"


def test_a_file_without_tokens_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# no tokens yet\n", encoding="utf-8")
    message = refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(path)})
    assert message == f"GITOPS_ML_AUTH=on but tokens file {path} (GITOPS_ML_TOKENS_FILE) holds no tokens; " + (
        "add a line from `make token ROLE=predict`"
    )


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    assert refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(missing)}) == (
        f"cannot read tokens file {missing} (GITOPS_ML_TOKENS_FILE): No such file or directory"
    )
    assert refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(tmp_path)}).endswith(": Is a directory")


def test_a_file_that_is_not_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_bytes(b"predict sha256:\xff\xfe\n")
    assert refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(path)}) == (
        f"tokens file {path} (GITOPS_ML_TOKENS_FILE): not UTF-8 text; expected lines '<role> sha256:<hex>'"
    )


def test_a_malformed_line_is_named_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"{hash_line(new_token(), Role.ADMIN)}\n\nwriter sha256:{'0' * 64}\n", encoding="utf-8")
    assert refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(path)}) == (
        f"tokens file {path} (GITOPS_ML_TOKENS_FILE) line 3: unknown role (the first field); "
        "roles are predict, metrics, admin"
    )
    assert refusal({"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS": "x"}).startswith("GITOPS_ML_TOKENS line 1: expected")
