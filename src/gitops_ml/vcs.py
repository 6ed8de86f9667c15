"""Git, DVC and GitHub Actions facts the project reads in many places, each computed here once.

Running git, the commit a ref or HEAD names, a file at a commit, a temporary worktree, the md5 DVC records for a
file and where DVC caches it, and the step outputs and job summary of GitHub Actions. Light imports only: every
command module may use it at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from gitops_ml.errors import GitError

UNKNOWN_COMMIT = "unknown"
GIT_MISSING_EXIT = 127  # what a shell answers for a command it cannot find


def git(
    *args: str, cwd: Path | str, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``git args`` in ``cwd``: output captured as text, a failing exit code returned, never raised.

    When git cannot start (no git executable, or no directory ``cwd``) the result has exit code 127 and says why on
    stderr, like a shell.
    """
    cmd = ["git", *args]
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=None if env is None else dict(env), capture_output=True, text=True, check=False,
            timeout=timeout,
        )  # fmt: skip
    except FileNotFoundError:
        why = f"no directory {cwd}" if not Path(cwd).is_dir() else "git is not installed (not found on PATH)"
        return subprocess.CompletedProcess(cmd, GIT_MISSING_EXIT, "", why)


def git_stdout(*args: str, cwd: Path | str) -> str:
    """The output of ``git args`` in ``cwd``; :class:`~gitops_ml.errors.GitError` with git's message if it fails."""
    result = git(*args, cwd=cwd)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout


def commit_of(repo: Path | str, rev: str = "HEAD") -> str | None:
    """The full SHA of the commit ``rev`` (a branch, tag, SHA or ``HEAD``) names, or None when it names none."""
    result = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo)
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and sha else None


def head_commit(repo: Path | str) -> str:
    """The full SHA of HEAD; :class:`~gitops_ml.errors.GitError` outside a git repository with a commit."""
    result = git("rev-parse", "HEAD", cwd=repo)
    if result.returncode != 0:
        raise GitError(f"{repo} is not a git repository with a commit: {result.stderr.strip()}")
    return result.stdout.strip()


def head_or_unknown(cwd: Path | str = ".") -> str:
    """The full SHA of HEAD, or ``unknown`` outside a git repository (for labels and tags, never for decisions)."""
    return commit_of(cwd, "HEAD") or UNKNOWN_COMMIT


def short_head(cwd: Path | str = ".") -> str | None:
    """The seven-character SHA of HEAD, or None outside a git repository."""
    result = git("rev-parse", "--short=7", "HEAD", cwd=cwd)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def file_at(repo: Path | str, rev: str, path: str) -> str | None:
    """The text of ``path`` in commit ``rev`` (``git show rev:path``), or None when that commit has no such file."""
    result = git("show", f"{rev}:{path}", cwd=repo)
    return result.stdout if result.returncode == 0 else None


def is_ancestor(repo: Path | str, older: str, newer: str) -> bool:
    """Whether commit ``older`` is in the history of ``newer`` (or is it)."""
    return git("merge-base", "--is-ancestor", older, newer, cwd=repo).returncode == 0


@contextmanager
def worktree(repo: Path | str, commit: str, prefix: str = "gitops-ml-worktree-") -> Iterator[Path]:
    """A detached worktree of ``commit`` in a new temporary directory; removed, and git's record pruned, afterwards.

    Raises :class:`~gitops_ml.errors.GitError` when the commit cannot be checked out. The working tree of ``repo``
    is never touched.
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    path = tmp / "tree"
    added = git("worktree", "add", "--quiet", "--detach", str(path), commit, cwd=repo)
    if added.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GitError(f"cannot check out {commit} in a temporary worktree of {repo}: {added.stderr.strip()}")
    try:
        yield path
    finally:
        git("worktree", "remove", "--force", str(path), cwd=repo)
        shutil.rmtree(tmp, ignore_errors=True)
        git("worktree", "prune", cwd=repo)


def github_push_env(token: str | None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``environ`` for a ``git push`` to github.com: with ``token``, authenticated by an HTTP header set through
    ``GIT_CONFIG_*`` variables, so the token is never in a URL, an argument list or ``.git/config``."""
    env = dict(environ)
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.https://github.com/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        }
    return env


def file_md5(path: Path | str) -> str:
    """md5 of a file's bytes (read in blocks), the hash DVC records for it."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(cache: Path, md5: str) -> Path:
    """Where DVC 3 keeps the file with hash ``md5`` in the cache directory ``cache``."""
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def write_github_outputs(values: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> bool:
    """In GitHub Actions, append ``name=value`` step outputs to ``$GITHUB_OUTPUT``; False (nothing written) outside.

    Values are single lines: a newline would start another output, so it is refused.
    """
    target = environ.get("GITHUB_OUTPUT")
    if not target:
        return False
    for name, value in values.items():
        if "\n" in value or "\n" in name or "=" in name:
            raise ValueError(f"step output {name!r}: names hold no '=' or newline, values no newline")
    with Path(target).open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{name}={value}\n" for name, value in values.items()))
    return True


def append_step_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> bool:
    """In GitHub Actions, append ``markdown`` to the job summary (``$GITHUB_STEP_SUMMARY``); False outside."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as handle:
        handle.write(markdown)
    return True
