"""``gitops-ml token`` and ``make token``: a new token once, then the line that grants its role."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from gitops_ml.serving.tokens import Role, TokenStore, hash_line, parse_tokens
from tests.support.projects import project_env, run


def test_prints_the_token_then_its_hash_line(tmp_path: Path) -> None:
    result = run(["gitops-ml", "token", "--role", "metrics"], tmp_path)
    token, line = result.stdout.splitlines()
    assert re.fullmatch(r"gml_[A-Za-z0-9_-]{43}", token)
    assert line == hash_line(token, Role.METRICS)
    assert TokenStore(parse_tokens(line, "stdout")).role_of(token) is Role.METRICS
    assert "shown once" in result.stderr
    assert "gitops-ml-tokens" in result.stderr
    assert token not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


def test_every_call_makes_a_new_token(tmp_path: Path) -> None:
    first = run(["gitops-ml", "token", "--role", "admin"], tmp_path).stdout
    second = run(["gitops-ml", "token", "--role", "admin"], tmp_path).stdout
    assert first.splitlines()[0] != second.splitlines()[0]


def test_an_unknown_role_is_refused_naming_the_roles(tmp_path: Path) -> None:
    result = run(["gitops-ml", "token", "--role", "root"], tmp_path, env=project_env({"COLUMNS": "200"}), check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "'predict', 'metrics', 'admin'" in result.stderr


def make_token(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-o", "install", "token", "RUN=", *args],
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_token(project: Path) -> None:
    result = make_token(project, "ROLE=predict")
    assert result.returncode == 0, result.stderr
    token, line = result.stdout.splitlines()[-2:]
    assert line == hash_line(token, Role.PREDICT)


def test_make_token_without_a_role_says_how(project: Path) -> None:
    result = make_token(project)
    assert result.returncode != 0
    assert "usage: make token ROLE=predict|metrics|admin" in result.stderr
