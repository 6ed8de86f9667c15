"""Promotion and release notes on real (tiny) git repositories; no pipeline needed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_ml.config import GateParams, ProjectParams
from gitops_ml.errors import ReleaseError
from gitops_ml.gitops.champion import latest_release_tag, next_release_tag, release_tags, tag_number
from gitops_ml.gitops.gate_report import GateReport
from gitops_ml.gitops.release import (
    approved_tag,
    image_name,
    promote,
    push_tag,
    release_notes,
    tag_is_done,
)
from gitops_ml.vcs import commit_of
from tests.support.projects import project_env, run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path)
    (path / "a.txt").write_text("a\n")
    run(["git", "add", "a.txt"], path)
    run(["git", "commit", "-qm", "first"], path)
    return path


def head(repo: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def gate_json(repo: Path, release: bool = True, tag: str = "model-v1") -> GateReport:
    return GateReport(
        release=release,
        tag=tag if release else None,
        commit=head(repo),
        rules=GateParams(),
        reasons=["PASS: fine"] if release else ["FAIL: primary metric average_precision ties"],
        candidate={"average_precision": 0.5},
    )


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for key, value in project_env().items():
        if key.startswith("GIT_"):
            monkeypatch.setenv(key, value)


def test_tag_numbers_sort_numerically(repo):
    for n in (1, 2, 10, 9):
        run(["git", "tag", f"model-v{n}"], repo)
    run(["git", "tag", "model-vx"], repo)
    run(["git", "tag", "model-v01"], repo)
    assert release_tags(repo) == ["model-v1", "model-v2", "model-v9", "model-v10"]
    assert latest_release_tag(repo) == "model-v10"
    assert next_release_tag(repo) == "model-v11"
    assert tag_number("v3") is None


def test_no_tag_means_first_release(repo):
    assert latest_release_tag(repo) is None
    assert next_release_tag(repo) == "model-v1"


def test_promote_tags_head_once(repo):
    first = promote(repo, gate_json(repo), say=lambda _: None)
    assert (first.tag, first.created) == ("model-v1", True)
    again = promote(repo, gate_json(repo), say=lambda _: None)
    assert (again.tag, again.created) == ("model-v1", False)
    assert release_tags(repo) == ["model-v1"]
    kind = run(["git", "cat-file", "-t", "model-v1"], repo).stdout.strip()
    assert kind == "tag"  # annotated


def commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name)
    run(["git", "add", name], repo)
    run(["git", "commit", "-qm", name], repo)
    return head(repo)


def test_promote_uses_the_tag_the_gate_decided(repo):
    run(["git", "tag", "model-v1"], repo)
    commit(repo, "b")
    done = promote(repo, gate_json(repo, tag="model-v2"), say=lambda _: None)
    assert (done.tag, done.created) == ("model-v2", True)
    assert commit_of(repo, "model-v2") == head(repo)


def test_rerunning_an_old_release_run_publishes_nothing(repo):
    old_gate = gate_json(repo, tag="model-v1")  # the gate of an old run, decided before a newer release
    old_head = head(repo)
    commit(repo, "b")
    run(["git", "tag", "model-v1"], repo)
    commit(repo, "c")
    run(["git", "tag", "model-v2"], repo)
    run(["git", "checkout", "-q", old_head], repo)
    with pytest.raises(ReleaseError, match=r"model-v1 already marks commit .* out of date and publishes nothing"):
        promote(repo, old_gate, say=lambda _: None)
    run(["git", "tag", "-d", "model-v1"], repo)  # even without its own tag, a newer release makes the run stale
    with pytest.raises(ReleaseError, match=r"a newer release model-v2 exists.*publishes nothing"):
        promote(repo, old_gate, say=lambda _: None)
    assert release_tags(repo) == ["model-v2"]


def test_a_rerun_of_the_same_release_finishes_it(repo):
    gate = gate_json(repo, tag="model-v1")
    assert tag_is_done(repo, "model-v1") is False
    promote(repo, gate, say=lambda _: None)
    assert tag_is_done(repo, "model-v1") is True  # the steps after the tag may run again


def test_a_tag_that_is_not_next_is_refused(repo):
    with pytest.raises(ReleaseError, match=r"model-v3 is not the next release tag \(model-v1 is\)"):
        tag_is_done(repo, "model-v3")
    with pytest.raises(ReleaseError, match="names no release tag"):
        approved_tag(repo, gate_json(repo).model_copy(update={"tag": "v1"}))


def test_promote_refuses_when_the_gate_said_no(repo):
    with pytest.raises(ReleaseError, match="says no release"):
        promote(repo, gate_json(repo, release=False), say=lambda _: None)
    assert release_tags(repo) == []


def test_promote_refuses_a_gate_report_of_another_commit(repo):
    stale = gate_json(repo)
    (repo / "b.txt").write_text("b\n")
    run(["git", "add", "b.txt"], repo)
    run(["git", "commit", "-qm", "second"], repo)
    with pytest.raises(ReleaseError, match="run `make gate` on this commit"):
        promote(repo, stale, say=lambda _: None)


def test_promote_cli_refuses_with_a_clear_error(repo):
    result = run(["gitops-ml", "promote"], repo, check=False)
    assert result.returncode == 1
    assert "reports/gate.json not found; run `make gate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_push_tag_reaches_the_remote(repo, tmp_path):
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], repo)
    promote(repo, gate_json(repo), say=lambda _: None)
    push_tag(repo, "model-v1")
    listed = subprocess.run(["git", "ls-remote", "--tags", str(origin)], capture_output=True, text=True, check=True)
    assert "refs/tags/model-v1" in listed.stdout
    with pytest.raises(ReleaseError, match="not a release tag"):
        push_tag(repo, "main")


def test_release_notes_first_release():
    gate = GateReport.model_validate(
        {
            "release": True,
            "commit": "abc",
            "reasons": ["PASS: first release: no released model (model-v* tag) yet, so only the floors apply"],
            "candidate": {"roc_auc": 0.9, "average_precision": None},
            "champion": None,
            "champion_tag": None,
            "test_rows": 1000,
            "rules": {"primary_metric": "average_precision", "min_improvement": 0.003},
        }
    )
    notes = release_notes("model-v1", gate, {"estimator": "dummy", "features": ["amount"], "train_rows": 3})
    assert notes.startswith("# model-v1\n")
    assert "as the first release" in notes
    assert "| roc_auc | 0.9000 |" in notes
    assert "| average_precision | n/a |" in notes
    assert "Estimator: `dummy`" in notes
    assert "Intended use: not stated (set `project.intended_use` in params.yaml)" in notes
    assert "- Primary metric: `average_precision`, minimal improvement 0.003" in notes
    assert "(1000 rows)" in notes


def test_release_notes_model_card_quotes_the_project():
    project = ProjectParams(
        name="churn",
        positive_label="churned",
        negative_label="stayed",
        intended_use="Rank accounts for\n  the retention team's calls.",
        limitations="Trained on 2024 accounts only.",
        owner="retention-ml@example.com",
    )
    gate = GateReport(release=True, commit="abc", reasons=[], rules=GateParams())
    notes = release_notes("model-v1", gate, {"estimator": "dummy"}, project)
    assert "- Model: `churn`" in notes
    assert "- Intended use: Rank accounts for the retention team's calls." in notes  # folded onto one line
    assert "- Limitations: Trained on 2024 accounts only." in notes
    assert "- Owner: retention-ml@example.com" in notes
    assert "- Classes: positive `churned`, negative `stayed`" in notes
    for domain in ("fraud", "legit", "transaction"):
        assert domain not in notes.lower()


@pytest.mark.parametrize(
    ("registry", "repository", "expected"),
    [
        ("ghcr.io", "Acme/Fraud-Model", "ghcr.io/acme/fraud-model"),
        ("registry.example.com:5000/", "a/b", "registry.example.com:5000/a/b"),
    ],
)
def test_image_name(registry, repository, expected):
    assert image_name(registry, repository) == expected


@pytest.mark.parametrize(("registry", "repository"), [("ghcr.io", "no-owner"), ("ghcr.io", "a/b;rm"), ("", "a/b")])
def test_image_name_rejects_bad_input(registry, repository):
    with pytest.raises(ReleaseError):
        image_name(registry, repository)


def test_smoke_test_fails_clearly_when_nothing_answers():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens here
    result = run(
        ["gitops-ml", "smoke-test", "--url", f"http://127.0.0.1:{port}", "--timeout", "2"], Path.cwd(), check=False
    )
    assert result.returncode == 1
    assert f"http://127.0.0.1:{port}/readyz did not answer 200 within 2s" in result.stderr
