"""Stand-in for actions/checkout: clone the rehearsal's origin into the workspace the way checkout does.

The repository ``owner/name`` lives at ``$REHEARSAL_GIT_ROOT/owner/name.git`` (a bare repository the scenario
made, with GitHub's ``refs/pull/N/head`` and ``refs/pull/N/merge`` where it opened pull requests). Like the real
action: with no ``ref`` input the run's ``GITHUB_REF`` at ``GITHUB_SHA`` is checked out; ``fetch-depth: 1`` (the
default) fetches only that commit, shallow and without tags; ``fetch-depth: 0`` fetches every branch and tag;
a branch is checked out as a local branch, anything else detached; ``persist-credentials`` leaves the token's
authorization header in ``.git/config`` (and nowhere else) or not at all.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

from toolkit import fail, get_bool, get_input, info, set_output, setting

SHA = re.compile(r"^[0-9a-f]{40}$")


def git(*args: str, cwd: Path, check: bool = True) -> str:
    """Run git in ``cwd``; on failure fail the step with git's message."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    info(f"[command]git {' '.join(args)}")
    if check and result.returncode != 0:
        fail(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def origin_of(repository: str) -> Path:
    """The bare repository standing in for github.com/<repository>."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        fail(f"Invalid repository '{repository}'. Expected format {{owner}}/{{repo}}.")
    path = Path(setting("GIT_ROOT")) / f"{repository}.git"
    if not path.is_dir():
        fail(f"repository {repository} not found (no {path}): the scenario did not create it")
    return path


def target(repository: str, ref: str, origin: Path) -> tuple[str, str]:
    """(fully qualified ref or '', commit) to check out, as checkout's ref helper decides."""
    if not ref and repository.lower() == os.environ["GITHUB_REPOSITORY"].lower():
        return os.environ["GITHUB_REF"], os.environ["GITHUB_SHA"]
    if not ref:
        head = git("symbolic-ref", "HEAD", cwd=origin)  # the repository's default branch
        return head, git("rev-parse", head, cwd=origin)
    if SHA.fullmatch(ref.lower()):
        return "", ref.lower()
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    for name in candidates:
        commit = git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=origin, check=False)
        if commit:
            return name, commit
    fail(f"A branch or tag with the name '{ref}' could not be found")


def tracking_ref(ref: str) -> str:
    """Where checkout keeps the fetched ref: refs/remotes/origin/<branch>, refs/remotes/pull/N/merge, refs/tags/..."""
    if ref.startswith("refs/heads/"):
        return "refs/remotes/origin/" + ref.removeprefix("refs/heads/")
    if ref.startswith("refs/pull/"):
        return "refs/remotes/pull/" + ref.removeprefix("refs/pull/")
    return ref


def main() -> None:
    """Check out the requested commit into the workspace (or ``path`` inside it)."""
    repository = get_input("repository") or os.environ["GITHUB_REPOSITORY"]
    origin = origin_of(repository)
    ref, commit = target(repository, get_input("ref"), origin)
    depth = int(get_input("fetch-depth") or "1")
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    dest = (workspace / get_input("path")).resolve()
    if workspace.resolve() not in (dest, *dest.parents):
        fail(f"Repository path '{dest}' is not under '{workspace}'")
    if dest.exists() and get_bool("clean"):
        for child in dest.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    dest.mkdir(parents=True, exist_ok=True)

    git("init", "-q", cwd=dest)
    git("remote", "add", "origin", origin.as_uri(), cwd=dest)
    if depth <= 0:
        specs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        if ref and not ref.startswith(("refs/heads/", "refs/tags/")):
            specs.append(f"+{ref}:{tracking_ref(ref)}")
        git("fetch", "--prune", "--no-recurse-submodules", "origin", *specs, cwd=dest)
        if not ref:
            git("fetch", "--no-recurse-submodules", "origin", commit, cwd=dest)
    else:
        tags = [] if get_bool("fetch-tags") else ["--no-tags"]
        spec = f"+{commit}:{tracking_ref(ref)}" if ref else commit
        git("fetch", *tags, "--prune", "--no-recurse-submodules", f"--depth={depth}", "origin", spec, cwd=dest)

    if ref.startswith("refs/heads/"):
        git("checkout", "-q", "--force", "-B", ref.removeprefix("refs/heads/"), commit, cwd=dest)
    else:
        git("checkout", "-q", "--force", "--detach", commit, cwd=dest)
    if get_bool("persist-credentials"):
        token = get_input("token")
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        git("config", "--local", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {basic}", cwd=dest)
    head = git("rev-parse", "HEAD", cwd=dest)
    info(f"checked out {repository} {ref or commit} at {head}")
    set_output("ref", ref)
    set_output("commit", head)


if __name__ == "__main__":
    main()
