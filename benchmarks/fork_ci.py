"""Fork CI benchmark: a project's push CI on a change to the team's files only, rehearsed with act on this machine.

Two variants of the same project, each in a hosted repository of the workflow rehearsal (tests/rehearsal/hosting.py:
the real ci.yml under act, with the rehearsal's stand-ins for the actions, on this machine as the runner):

- ``template``: a plain copy of the template (what every fork ran before ``make init-project`` existed): its
  ``make test`` runs the template's whole suite;
- ``project``: the same copy after ``make init-project``: its ``make test`` runs the team's checks, the conformance
  kit and the test helpers' own tests.

In each, a developer changes a hyperparameter in params.yaml (a team-only change) and pushes; ci.yml's ``test`` and
``pipeline`` jobs then run one after the other, each on a fresh runner with an empty DVC cache, and are timed
(wall seconds, act's start included). The ``lint`` job is the same in both (it checks the workflows and runs the
online audits, which need GitHub) and is left out.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.rehearsal.hosting import BOT, READ_ONLY_TOKEN, WORKFLOW_TOKEN, HostedRepo, learning_rate
from tests.support.act_runner import RunnerMachine
from tests.support.fixture_project import copy_with_fixture
from tests.support.github_stub import GitHubStub

from benchmarks.common import ROOT, WORK, BenchError, load_average, sh, working_tree_files

VARIANTS = ("template", "project")
JOBS = ("test", "pipeline")
REPOSITORY = "acme/fraud-model"


def template_repository(path: Path) -> Path:
    """The working tree as a fork receives it (the fixture project's params and data), tagged with its version."""
    copy_with_fixture([name for name in working_tree_files() if (ROOT / name).is_file()], path)
    sh(["git", "init", "-q", "-b", "main"], path)
    sh(["git", "add", "-A"], path)
    sh(["git", "commit", "-qm", "template"], path)
    version = tomllib.loads((path / "pyproject.toml").read_text())["project"]["version"]
    sh(["git", "tag", f"v{version}"], path)
    return path


def project_from(template: Path, path: Path) -> Path:
    """A copy of ``template`` after ``make init-project`` (the command itself, run here with this venv)."""
    sh(["git", "clone", "-q", str(template), str(path)], template.parent)
    sh(["git", "remote", "remove", "origin"], path)
    sh(["gitops-ml", "init-project", "--from", str(template)], path)
    return path


def time_jobs(source: Path, root: Path, say: Callable[[str], None], variant: str) -> dict[str, Any]:
    """Push a team-only change to a hosted repository made from ``source``; time ci.yml's jobs under act."""
    timings: dict[str, Any] = {}
    for job in JOBS:
        machine_root = root / f"{variant}-{job}"
        (machine_root / "dvc-system").mkdir(parents=True)
        (machine_root / "dvc-system" / "config").write_text(f"[cache]\n    dir = {machine_root / 'dvc-cache'}\n")
        env = {"DVC_SYSTEM_CONFIG_DIR": str(machine_root / "dvc-system")}  # a fresh runner: an empty DVC cache
        machine = RunnerMachine(machine_root / "runner", env=env, log_dir=machine_root / "logs").setup()
        state = {"repository": REPOSITORY, "tokens": {WORKFLOW_TOKEN: BOT, READ_ONLY_TOKEN: BOT}}
        with GitHubStub(state, calls_path=machine.logs / "github-calls.jsonl") as stub:
            repo = HostedRepo(machine, stub, REPOSITORY, source)
            before = repo.head()
            dev = repo.clone("team", own_dvc_cache=True)  # the runner must not find the developer's outputs
            dev.replace("params.yaml", learning_rate("0.1"), learning_rate("0.08"))
            dev.dvc_repro()  # as the team does before committing a params change: CI refuses a stale dvc.lock
            after = dev.commit("A smaller learning rate")
            dev.push("main")
            say(f"fork_ci: {variant}: ci.yml job {job}")
            load = load_average()
            start = time.monotonic()
            run = repo.push_run(f"{variant}-{job}", "ci.yml", before, after, job=job).act
            wall = time.monotonic() - start
            if run.conclusion != "success":
                raise BenchError(f"fork_ci: {variant}: ci.yml job {job} did not pass: {run.describe()}")
        timings[job] = {"wall_s": round(wall, 1), "load_average_1m": load}
    timings["total_s"] = round(sum(t["wall_s"] for t in timings.values() if isinstance(t, dict)), 1)
    return timings


def bench(say: Callable[[str], None] = print, variants: tuple[str, ...] = VARIANTS) -> dict[str, Any]:
    """Every variant's jobs; the project's total as a share of the template's."""
    base = WORK / "fork_ci"
    sh(["rm", "-rf", str(base)], ROOT)
    base.mkdir(parents=True)
    template = template_repository(base / "template")
    sources = {"template": template, "project": project_from(template, base / "project")}
    results = {variant: time_jobs(sources[variant], base / "runs", say, variant) for variant in variants}
    out: dict[str, Any] = {"jobs": list(JOBS), "variants": results}
    if set(VARIANTS) <= set(results):
        out["project_share_of_template"] = round(results["project"]["total_s"] / results["template"]["total_s"], 3)
    return out
