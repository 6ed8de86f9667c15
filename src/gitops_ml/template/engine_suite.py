"""The engine's own suite on a project: ``make engine-test`` (docs/upgrading.md).

A project keeps the team's checks and the conformance kit; the template's own suite stays in the template repository
(copier.yml's ``_exclude``). This runs that suite against the project's engine: the template at the version
``.copier-answers.yml`` records, cloned into a temporary directory, with the project's engine files (parts.yaml: never
the team's or the generated ones) copied over it, tested with the project's virtualenv (after ``make upgrade`` its
``uv.lock`` is the template's, so no second install) and ``PYTHONPATH`` on the clone's code. The temporary directory
is always removed; the result is pytest's exit status.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from gitops_ml.errors import ProjectError
from gitops_ml.template.naming import PYPROJECT, distribution_name, pyproject_named
from gitops_ml.template.parts import COPIER_FILE, Layout, Part, load_layout, tracked_files
from gitops_ml.template.upgrade import ANSWERS_FILE, read_answers, tag_exists
from gitops_ml.vcs import git, git_stdout

SUITE_MARKERS = "not image and not rehearsal"
"""The tests the template's ``make pytest`` runs (the image test and the rehearsal have targets of their own)."""
SHOWN_CHANGES = 10
"""How many of the project's changed engine files the progress line names."""


class EngineSuiteError(ProjectError, RuntimeError):
    """The engine's suite cannot be run on this project; the message says why and how to fix it."""


def engine_files(project: Path, template: Path) -> list[str]:
    """The project's tracked files that are the engine's: engine in the project's parts.yaml and in the template's
    (where copier.yml's ``_exclude`` also names what never reaches a project), the answers file left out."""
    ours, theirs = load_layout(project), load_layout(template)
    return [
        name
        for name in tracked_files(project)
        if name != ANSWERS_FILE and _is_engine(ours, name) and _is_engine(theirs, name)
    ]


def _is_engine(layout: Layout, name: str) -> bool:
    return layout.part_of(name) is Part.ENGINE


def _same(a: Path, b: Path) -> bool:
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and a.readlink() == b.readlink()
    return b.is_file() and a.read_bytes() == b.read_bytes()


def overlay(project: Path, checkout: Path, names: Sequence[str]) -> list[str]:
    """Copy the files ``names`` of ``project`` over ``checkout`` (a file missing from the working tree is skipped)
    and commit them there, as the checkout's own; return the names whose content differed from the checkout's.

    pyproject.toml keeps the checkout's distribution name: the project's own name is the team's, not the engine's
    (:mod:`gitops_ml.template.naming`), and the checkout's uv.lock names the template's."""
    changed = []
    template_name = distribution_name(checkout)
    for name in names:
        source, target = project / name, checkout / name
        if not source.is_file() and not source.is_symlink():
            continue
        if name == PYPROJECT.as_posix() and not source.is_symlink():  # the project's name is not an engine change
            text = pyproject_named(source.read_text(encoding="utf-8"), template_name, source)
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                changed.append(name)
                target.write_text(text, encoding="utf-8")
            continue
        if (target.exists() or target.is_symlink()) and _same(source, target):
            continue
        changed.append(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.is_file():
            target.unlink()
        shutil.copy2(source, target, follow_symlinks=False)
    if changed:
        git_stdout("add", "-A", cwd=checkout)
        git_stdout("-c", "user.name=gitops-ml", "-c", "user.email=gitops-ml@localhost", "-c", "commit.gpgsign=false",
                   "commit", "-q", "--no-verify", "-m", "The project's engine files", cwd=checkout)  # fmt: skip
    return changed


def clone(source: str, version: str, dest: Path) -> None:
    """Clone the template at ``source`` (a URL or a path) at the tag ``version`` into ``dest``, shallow when remote;
    :class:`EngineSuiteError` naming the fix when it cannot."""
    local = Path(source).exists()
    if local:  # git clones from dest's parent: a relative path is the caller's
        source = str(Path(source).resolve())
    shallow = [] if local else ["--depth", "1"]
    result = git("-c", "advice.detachedHead=false", "clone", "--quiet", *shallow, "--single-branch", "--branch",
                 version, source, str(dest), cwd=dest.parent,
                 env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})  # fmt: skip
    if result.returncode != 0:
        why = next(iter(result.stderr.strip().splitlines()), f"git exited {result.returncode}")
        raise EngineSuiteError(f"cannot clone the template {source} at {version} ({why}): check the location, or "
                               "take the template from a local clone with its tags this once (FROM=path)")  # fmt: skip


def _require_project(project: Path) -> None:
    if git("rev-parse", "--show-toplevel", cwd=project).returncode != 0:
        raise EngineSuiteError(f"{project} is not a git repository: run `make engine-test` in the project's clone")
    if not (project / ANSWERS_FILE).is_file() and (project / COPIER_FILE).is_file():
        raise EngineSuiteError(
            "this is the template repository itself: its suite is `make pytest`; `make engine-test` runs it on "
            "a project made from the template"
        )


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_CHANGES])
    return shown + (f" and {len(names) - SHOWN_CHANGES} more" if len(names) > SHOWN_CHANGES else "")


def pytest_command(basetemp: Path, workers: int, pytest_args: Sequence[str]) -> list[str]:
    """The template's ``make pytest`` without coverage: its markers, on ``workers`` xdist processes (0: in this
    one), temporary files under ``basetemp``, then ``pytest_args``."""
    command = [sys.executable, "-m", "pytest", "-m", SUITE_MARKERS, f"--basetemp={basetemp}", "--durations=20"]
    if workers:
        command += ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]
    return command + list(pytest_args)


def run_engine_suite(
    project: Path,
    source: str | None = None,
    pytest_args: Sequence[str] = (),
    workers: int = 2,
    say: Callable[[str], None] = print,
) -> int:
    """Run the template's suite, at the version the project records, on the project's engine files; return
    pytest's exit status.

    ``source`` takes the template from there this once instead of the recorded location. Refusals (not a git
    repository, no answers file, an unknown version, an unreachable template) are :class:`EngineSuiteError` or
    :class:`~gitops_ml.template.upgrade.UpgradeError`, raised before anything runs.
    """
    project = project.resolve()
    _require_project(project)
    answers = read_answers(project)
    location = source or answers.source
    if not tag_exists(location, answers.version):
        raise EngineSuiteError(
            f"{location} has no tag {answers.version} (the version {ANSWERS_FILE} records): name the template "
            "repository this project came from, with its tags (FROM=<URL or path>)"
        )
    with tempfile.TemporaryDirectory(prefix="gitops-ml-engine-test-") as tmp:
        checkout = Path(tmp) / "template"
        say(f"cloning the template {location} at {answers.version} into {checkout}")
        clone(location, answers.version, checkout)
        names = engine_files(project, checkout)
        changed = overlay(project, checkout, names)
        differ = (f"{len(changed)} differ{'s' if len(changed) == 1 else ''} from {answers.version}: "
                  f"{_listed(changed)}" if changed else "none differs")  # fmt: skip
        say(f"copied the project's {len(names)} engine files (parts.yaml) over it, the team's and the generated "
            f"ones left as the template's; {differ}")  # fmt: skip
        env = _environment(checkout)
        say("making the template's data (gitops-ml ensure-data)")
        data = subprocess.run([sys.executable, "-m", "gitops_ml", "ensure-data"], cwd=checkout, env=env, check=False)
        if data.returncode != 0:
            raise EngineSuiteError(f"`gitops-ml ensure-data` failed in the clone (exit status {data.returncode}, "
                                   "output above): the suite needs the template's data, made by the engine's code "
                                   "with the project's engine files")  # fmt: skip
        command = pytest_command(Path(tmp) / "pytest", workers, pytest_args)
        say(f"running the template's suite ({answers.version}): {shlex.join(command[1:])}")
        status = subprocess.run(command, cwd=checkout, env=env, check=False).returncode
        verdict = "passed" if status == 0 else f"failed (pytest exit status {status})"
        say(f"the engine's suite of the template {answers.version} on this project's engine files {verdict}")
    return status


def _environment(checkout: Path) -> dict[str, str]:
    """The suite's environment: the clone's code first (``PYTHONPATH``), this virtualenv's commands first on
    ``PATH``, and the virtualenv linked as the clone's ``.venv`` (the tests' forks link ``ROOT/.venv``)."""
    venv_bin = Path(sys.executable).parent
    if sys.prefix != sys.base_prefix:
        (checkout / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        with (checkout / ".git" / "info" / "exclude").open("a") as exclude:
            exclude.write("/.venv\n")  # .gitignore's `.venv/` matches a directory, not this link
    return os.environ | {
        "PYTHONPATH": str(checkout / "src"),
        "PATH": os.pathsep.join([str(venv_bin), os.environ.get("PATH", "")]),
    }
