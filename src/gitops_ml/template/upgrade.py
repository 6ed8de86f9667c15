"""Start a project from the template and bring it to newer template versions: ``make init-project``, ``make upgrade``.

The mechanism is copier's (``copier update``: it renders the version the project came from and the new one, and
merges the difference into the project three ways, so every change the team made is kept and a real conflict shows
as ordinary conflict markers). This module adds what a project needs around it: the template's location recorded
once in ``.copier-answers.yml`` and overridable for one run (``FROM=``: a local clone, a mirror), a clean-tree check
with the fix, conflicts named file by file, the project's own name kept out of the merge, and the whole upgrade as
one commit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.config import load_params
from gitops_ml.errors import ProjectError
from gitops_ml.io import load_yaml
from gitops_ml.template.naming import (
    LOCK,
    PARAMS,
    PYPROJECT,
    README,
    TEMPLATE_DISTRIBUTION,
    distribution_name,
    rename_distribution,
    renamed,
    write_renamed,
)
from gitops_ml.template.parts import COPIER_FILE, Part, load_layout, tracked_files
from gitops_ml.vcs import commit_of, git, git_stdout

ANSWERS_FILE = ".copier-answers.yml"
ANSWERS_TEMPLATE = ".copier-answers.yml.jinja"
ANSWERS_HEADER = (
    "# Which template this project came from and at which version: `make upgrade` reads it. Written by copier or by\n"
    "# `make init-project`; do not edit by hand.\n"
)
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")
"""How a line of a file copier could not merge starts (its ``--conflict inline`` markers, as git's)."""


class UpgradeError(ProjectError, RuntimeError):
    """The project cannot be started from, or brought to a version of, the template; the message says why and how."""


@dataclass(frozen=True)
class Answers:
    """What ``.copier-answers.yml`` records: where the template lives and the version the project is at."""

    source: str
    version: str
    extra: dict[str, Any]


def read_answers(project: Path) -> Answers:
    """The project's ``.copier-answers.yml``; :class:`UpgradeError` naming the fix when it is missing or broken."""
    path = project / ANSWERS_FILE
    if not path.is_file():
        raise UpgradeError(
            f"{path} is missing, so the template this project came from is unknown. A project made with GitHub's "
            f"'Use this template' records it once with `make init-project FROM=<the template's URL>`"
        )
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise UpgradeError(f"{path} is not valid YAML ({exc}); restore it from git history") from None
    if not isinstance(data, dict) or not data.get("_src_path") or not data.get("_commit"):
        raise UpgradeError(f"{path} must record `_src_path` (the template's location) and `_commit` (its version)")
    extra = {k: v for k, v in data.items() if k not in {"_src_path", "_commit"}}
    return Answers(source=str(data["_src_path"]), version=str(data["_commit"]), extra=extra)


def write_answers(project: Path, answers: Answers) -> None:
    """Write ``.copier-answers.yml`` as copier renders it (the template's ``.copier-answers.yml.jinja``)."""
    data = {"_commit": answers.version, "_src_path": answers.source, **answers.extra}
    (project / ANSWERS_FILE).write_text(ANSWERS_HEADER + yaml.safe_dump(data, default_flow_style=False, indent=4))


def require_clean(project: Path, what: str) -> None:
    """:class:`UpgradeError` when ``project`` has uncommitted changes (copier merges into a clean tree only)."""
    status = git_stdout("status", "--porcelain", "--untracked-files=normal", cwd=project)
    if status.strip():
        changed = ", ".join(line[3:] for line in status.splitlines()[:5])
        raise UpgradeError(f"commit or stash your changes before {what} (uncommitted: {changed})")


def conflicted_files(project: Path) -> list[str]:
    """Files changed in the working tree that hold a conflict marker, or that copier left as ``.rej``."""
    names = git_stdout("ls-files", "-z", "--modified", "--others", "--exclude-standard", cwd=project).split("\0")
    found = []
    for name in sorted({n for n in names if n}):
        path = project / name
        if name.endswith(".rej"):
            found.append(name)
            continue
        try:
            text = path.read_text(errors="replace")
        except (IsADirectoryError, FileNotFoundError):
            continue
        if any(line.startswith(CONFLICT_MARKERS) for line in text.splitlines()):
            found.append(name)
    return found


LS_REMOTE_NO_MATCH = 2
"""``git ls-remote --exit-code``'s exit code when the repository answered but has no such ref."""


def tag_exists(source: str, tag: str) -> bool:
    """Whether the git repository at ``source`` (a URL or a path) has the tag ``tag``; :class:`UpgradeError` when
    it cannot be reached at all."""
    result = git("ls-remote", "--tags", "--exit-code", source, f"refs/tags/{tag}", cwd=".",
                 env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})  # fmt: skip
    if result.returncode not in (0, LS_REMOTE_NO_MATCH):
        why = next(iter(result.stderr.strip().splitlines()), f"git exited {result.returncode}")
        raise UpgradeError(f"cannot read the template's tags at {source} ({why}): check the location, or take "
                           "the template from a local clone this once (FROM=path)")  # fmt: skip
    return result.returncode == 0


def engine_version(project: Path) -> str:
    """The template version of the engine in ``project``: ``v`` and pyproject.toml's ``version``."""
    import tomllib

    try:
        return f"v{tomllib.loads((project / 'pyproject.toml').read_text())['project']['version']}"
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise UpgradeError(f"{project / 'pyproject.toml'} gives no [project] version ({exc})") from None


def init_project(project: Path, source: str, say: Callable[[str], None] = print) -> Answers:
    """Turn a plain copy of the template (GitHub's 'Use this template') into a project of it, in one commit.

    Records ``source`` and this engine's version in ``.copier-answers.yml``, removes what stays in the template
    repository (copier.yml's ``_exclude``: its own tests, benchmarks, performance pages), as ``copier copy`` would
    have left them out, and names the Python distribution and the README's title after ``project.name``
    (:mod:`~gitops_ml.template.naming`).
    """
    if (project / ANSWERS_FILE).is_file():
        answers = read_answers(project)
        raise UpgradeError(f"this project already records its template: {answers.source} at {answers.version} "
                           f"({ANSWERS_FILE}); `make upgrade` brings it to a newer version")  # fmt: skip
    if not (project / COPIER_FILE).is_file():
        raise UpgradeError(
            f"{project / COPIER_FILE} is missing: init-project starts a project from a plain copy of the template "
            "(with its copier.yml); a project made by `copier copy` needs nothing"
        )
    require_clean(project, "starting the project")
    version = engine_version(project)
    if not tag_exists(source, version):
        raise UpgradeError(f"{source} has no tag {version} (this copy's engine version): name the template "
                           "repository this project was copied from, with its tags (FROM=<URL or path>)")  # fmt: skip
    project_name = load_params(project / PARAMS).project.name
    named = renamed(project, project_name, titled_after=(TEMPLATE_DISTRIBUTION,))  # checked before anything changes
    layout = load_layout(project)
    removed = [
        name
        for name in tracked_files(project)
        if name == ANSWERS_TEMPLATE or layout.part_of(name) is Part.TEMPLATE_ONLY
    ]
    for chunk in range(0, len(removed), 200):
        git_stdout("rm", "-q", "--", *removed[chunk : chunk + 200], cwd=project)
    answers = Answers(source=source, version=version, extra={})
    write_answers(project, answers)
    write_renamed(project, named)
    git_stdout("add", ANSWERS_FILE, PYPROJECT.as_posix(), LOCK.as_posix(), README.as_posix(), cwd=project)
    git_stdout("commit", "-q", "-m", f"Start the project from the template {version} ({source})", cwd=project)
    say(f"recorded the template {source} at {version} in {ANSWERS_FILE}; removed {len(removed)} files that "
        f"stay in the template (its own tests, benchmarks and performance pages); the Python distribution and the "
        f"README's title are {project_name} (project.name; `make rename NAME=...` renames them all)")  # fmt: skip
    return answers


@contextmanager
def _ready_for_copier(project: Path, answers: Answers, source: str) -> Iterator[str]:
    """For one run: the answers file names ``source`` instead of the recorded location, and the project's Python
    distribution bears the template's name, in a temporary commit (copier reads the location from there and merges
    into a clean tree only; the name's line sits next to the version's, which every version changes, so a renamed
    project would conflict there on each upgrade). Yields the commit to return to.

    If the block fails, the project goes back to that commit, files included: the tree was clean before, so
    nothing of the team's is lost, and nothing half-upgraded is left behind."""
    start = git_stdout("rev-parse", "HEAD", cwd=project).strip()
    try:
        if source != answers.source:
            write_answers(project, Answers(source=source, version=answers.version, extra=answers.extra))
        rename_distribution(project, TEMPLATE_DISTRIBUTION)
        if git_stdout("status", "--porcelain", cwd=project).strip():
            git_stdout("commit", "-q", "-m", "upgrade: the template's location and name for this run", "-a",
                       cwd=project)  # fmt: skip
        yield start
    except BaseException:
        git("reset", "-q", "--hard", start, cwd=project)
        git("clean", "-fdq", cwd=project)
        raise


def upgrade(
    project: Path, to: str | None = None, source: str | None = None, say: Callable[[str], None] = print
) -> str | None:
    """Bring ``project`` to the template version ``to`` (default: its newest tag) in one commit; return that commit,
    or None when the project is already there.

    ``source`` overrides the recorded template location for this run only. On a conflict the merged files are left
    in the working tree with their markers, uncommitted, and :class:`UpgradeError` names them.
    """
    from copier import run_update
    from copier.errors import CopierError

    answers = read_answers(project)
    require_clean(project, "upgrading")
    location = source or answers.source
    if to and not tag_exists(location, to):
        raise UpgradeError(f"{location} has no tag {to}: name a version the template has released (TO=vX.Y.Z)")
    say(f"upgrading from {answers.version} to {to or 'the newest version'} of {location}")
    own_name = distribution_name(project)
    with _ready_for_copier(project, answers, location) as start:
        try:
            with _quiet_git_prompt():
                run_update(str(project), vcs_ref=to, defaults=True, overwrite=True, conflict="inline", quiet=True,
                           skip_answered=True)  # fmt: skip
        except (CopierError, ValueError, OSError) as exc:
            raise UpgradeError(f"copier could not upgrade from {location}: {exc}") from None
        new = read_answers(project)
        write_answers(project, Answers(source=answers.source, version=new.version, extra=new.extra))
        rename_distribution(project, own_name)
        # Back to the team's commit without touching the index or the files: the temporary commit, if any, joins
        # the upgrade, and copier's unmerged entries stay as they are (`git reset --soft` refuses them).
        git_stdout("update-ref", "HEAD", start, cwd=project)
    conflicts = conflicted_files(project)
    if conflicts:
        raise UpgradeError(
            f"the upgrade to {new.version} conflicts with your changes in {', '.join(conflicts)}: resolve the "
            "conflict markers there (`git status` lists them as both modified), then `git add -A && git commit` "
            "(or drop the upgrade: `git reset --hard && git clean -fd`)"
        )
    git_stdout("add", "-A", cwd=project)
    if not git_stdout("diff", "--cached", "--name-only", cwd=project).strip():
        say(f"already at {new.version}: nothing to change")
        return None
    git_stdout("commit", "-q", "-m", f"Upgrade the template from {answers.version} to {new.version}", cwd=project)
    commit = commit_of(project)
    stat = git_stdout("show", "--stat", "--format=", "HEAD", cwd=project).strip().splitlines()
    say(f"upgraded to {new.version} in one commit ({stat[-1].strip() if stat else 'no files'}); "
        "CHANGELOG.md says what else a project must do for it")  # fmt: skip
    return commit


@contextmanager
def _quiet_git_prompt() -> Iterator[None]:
    """No git credential prompt while copier clones (an unreachable template fails at once instead of waiting)."""
    saved = os.environ.get("GIT_TERMINAL_PROMPT")
    os.environ["GIT_TERMINAL_PROMPT"] = "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GIT_TERMINAL_PROMPT", None)
        else:
            os.environ["GIT_TERMINAL_PROMPT"] = saved
