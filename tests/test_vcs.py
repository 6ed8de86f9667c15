"""The git, DVC and GitHub Actions helpers, on real (tiny) git repositories."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitops_ml.errors import GitError
from gitops_ml.vcs import (
    append_step_summary,
    cache_path,
    commit_of,
    file_at,
    file_md5,
    git,
    git_stdout,
    head_commit,
    head_or_unknown,
    is_ancestor,
    short_head,
    worktree,
    write_github_outputs,
)
from tests.support.projects import project_env, run


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in project_env().items():
        if key.startswith("GIT_"):
            monkeypatch.setenv(key, value)
    path = tmp_path / "repo"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path)
    (path / "a.txt").write_text("first\n")
    run(["git", "add", "a.txt"], path)
    run(["git", "commit", "-qm", "first"], path)
    return path


def _commit(repo: Path, text: str) -> str:
    (repo / "a.txt").write_text(text)
    run(["git", "commit", "-qam", text], repo)
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def test_commits_of_refs_head_and_unknown_names(repo: Path) -> None:
    first = head_commit(repo)
    run(["git", "tag", "-a", "v1", "-m", "annotated"], repo)
    second = _commit(repo, "second\n")
    assert commit_of(repo, "v1") == first  # an annotated tag is peeled to its commit
    assert commit_of(repo) == commit_of(repo, "main") == head_commit(repo) == head_or_unknown(repo) == second
    assert short_head(repo) == second[:7]
    assert commit_of(repo, "no-such-branch") is None
    assert is_ancestor(repo, first, second) and not is_ancestor(repo, second, first)


def test_outside_a_repository(tmp_path: Path) -> None:
    assert head_or_unknown(tmp_path) == "unknown"
    assert short_head(tmp_path) is None
    with pytest.raises(GitError, match="not a git repository with a commit"):
        head_commit(tmp_path)
    with pytest.raises(GitError, match=r"git status failed in"):
        git_stdout("status", cwd=tmp_path)


def test_git_without_a_git_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = git("status", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (127, "git is not installed (not found on PATH)")
    assert head_or_unknown(tmp_path) == "unknown"
    assert git("status", cwd=tmp_path / "nowhere").stderr == f"no directory {tmp_path / 'nowhere'}"


def test_file_at_a_commit(repo: Path) -> None:
    first = head_commit(repo)
    _commit(repo, "second\n")
    assert file_at(repo, first, "a.txt") == "first\n"
    assert file_at(repo, "HEAD", "a.txt") == "second\n"
    assert file_at(repo, "HEAD", "missing.txt") is None


def test_worktree_checks_out_a_commit_and_is_removed_afterwards(repo: Path) -> None:
    first = head_commit(repo)
    _commit(repo, "second\n")
    with worktree(repo, first, prefix="test-tree-") as path:
        assert (path / "a.txt").read_text() == "first\n"
        assert "test-tree-" in str(path)
        assert len(run(["git", "worktree", "list"], repo).stdout.splitlines()) == 2
    assert not path.exists()
    assert len(run(["git", "worktree", "list"], repo).stdout.splitlines()) == 1
    assert (repo / "a.txt").read_text() == "second\n"  # the checkout is untouched


def test_worktree_is_removed_when_the_body_fails(repo: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), worktree(repo, "HEAD") as path:
        raise RuntimeError("boom")
    assert not path.exists()
    assert len(run(["git", "worktree", "list"], repo).stdout.splitlines()) == 1


def test_worktree_of_an_unknown_commit_names_it(repo: Path) -> None:
    with pytest.raises(GitError, match="cannot check out nope in a temporary worktree"), worktree(repo, "nope"):
        pass


def test_file_md5_is_the_md5_of_the_bytes_and_dvc_caches_by_it(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # more than one read block
    (tmp_path / "f").write_bytes(data)
    digest = hashlib.md5(data).hexdigest()
    assert file_md5(tmp_path / "f") == digest
    assert cache_path(tmp_path, digest) == tmp_path / "files" / "md5" / digest[:2] / digest[2:]


def test_github_outputs_and_summary_are_appended_only_in_actions(tmp_path: Path) -> None:
    outputs, summary = tmp_path / "out", tmp_path / "summary"
    environ = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    assert write_github_outputs({"release": "true", "tag": ""}, environ)
    assert write_github_outputs({"image": "ghcr.io/o/r"}, environ)
    assert outputs.read_text() == "release=true\ntag=\nimage=ghcr.io/o/r\n"
    assert append_step_summary("## one\n", environ) and append_step_summary("two\n", environ)
    assert summary.read_text() == "## one\ntwo\n"
    assert not write_github_outputs({"release": "true"}, {}) and not append_step_summary("x", {})


def test_a_multi_line_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no newline"):
        write_github_outputs({"tag": "a\nrelease=true"}, {"GITHUB_OUTPUT": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists()
