"""The GitHub side of a rehearsal: a repository (a bare git repo as ``origin``), its pull requests, its runs.

:class:`HostedRepo` plays what GitHub does around a workflow run, with real git: it keeps ``refs/pull/N/head``
and a real merge commit at ``refs/pull/N/merge`` for each pull request, seeds the API stand-in
(:class:`tests.support.github_stub.GitHubStub`) with the pull requests, builds the event payloads GitHub sends
(push, pull_request, workflow_run, workflow_dispatch), hands out run ids, reads the workflow file from the commit
GitHub would read it from, and runs it with act (:func:`tests.support.act_runner.run_act`).

Pushes from workflow steps (``GITHUB_ACTIONS=true``) must hold the workflow token in ``GITHUB_TOKEN`` or
``GH_TOKEN``; origin's pre-receive hook refuses them otherwise, as GitHub refuses an unauthenticated push.
(The hook sees the pushing step's environment, not what git sends: a local push carries no header.)
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.act_runner import PROJECT_UV, ActRun, RunnerMachine, run_act
from tests.support.github_stub import GitHubStub
from tests.support.projects import project_env, run

WORKFLOW_TOKEN = "ghs_rehearsal_workflow_token"
READ_ONLY_TOKEN = "ghs_rehearsal_read_only_token"  # what a fork's pull_request run gets
BOT = "github-actions[bot]"
DEVELOPER = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}
PRE_RECEIVE = """#!/bin/sh
# Rehearsal origin: a push from a workflow step needs a token with write access, as on GitHub.
if [ "${GITHUB_ACTIONS:-}" = "true" ]; then
  token="${GITHUB_TOKEN:-${GH_TOKEN:-}}"
  if [ -z "$token" ] || ! grep -qxF -- "$token" "$(dirname "$0")/../writers"; then
    echo "rehearsal origin: push refused: the step has no token with write access in GITHUB_TOKEN or GH_TOKEN" >&2
    exit 1
  fi
fi
"""


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run git; raise with its output when it fails; return stdout stripped."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | DEVELOPER | dict(env or {})
    result = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


@dataclass
class Clone:
    """A developer's working copy: edit files, run the pipeline with the project's venv, commit, push."""

    path: Path
    env: dict[str, str]

    def replace(self, relative: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` in a file (fails if it is not there exactly once)."""
        file = self.path / relative
        text = file.read_text()
        if text.count(old) != 1:
            raise AssertionError(f"{relative}: expected {old!r} once, found {text.count(old)} times")
        file.write_text(text.replace(old, new))

    def append(self, relative: str, text: str) -> None:
        """Append ``text`` to a file."""
        with (self.path / relative).open("a") as handle:
            handle.write(text)

    def run(self, *cmd: str) -> str:
        """``uv run --frozen CMD`` here: the clone's own code in its own venv (made on first use); return stdout."""
        return run([str(PROJECT_UV), "run", "--frozen", *cmd], self.path, env=self.env).stdout

    def dvc_repro(self) -> None:
        """``dvc repro`` here, as a developer does before committing a pipeline change (updates dvc.lock)."""
        self.run("gitops-ml", "ensure-data")
        self.run("dvc", "repro")

    def commit(self, message: str, branch: str | None = None) -> str:
        """Commit everything (on a new ``branch`` if given); return the commit."""
        if branch:
            git("checkout", "--quiet", "-B", branch, cwd=self.path)
        git("add", "-A", cwd=self.path)
        git("commit", "--quiet", "-m", message, cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)

    def push(self, branch: str, force: bool = False) -> str:
        """Push HEAD to ``branch`` (or a full ``refs/...`` name) on origin; return the pushed commit."""
        ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
        git("push", "--quiet", *(["--force"] if force else []), "origin", f"HEAD:{ref}", cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)


@dataclass
class Pull:
    """A pull request as GitHub holds it."""

    number: int
    head_ref: str
    head_sha: str
    head_repo: str
    base_ref: str = "main"
    merge_sha: str = ""
    base_sha: str = ""


@dataclass
class Run:
    """A finished workflow run, as a later ``workflow_run`` event describes it."""

    id: int
    attempt: int
    workflow: str
    path: str
    event: str
    conclusion: str
    head_branch: str
    head_sha: str
    head_repo: str
    pull_requests: list[dict[str, Any]] = field(default_factory=list)
    act: ActRun | None = None
    # what re-running it needs: the event GitHub delivered, the run's commit, the workflow as it ran
    trigger: tuple[str, dict[str, Any], str] | None = None
    workflow_file: Path | None = None


class HostedRepo:
    """One repository on the simulated GitHub, its origin made from ``template`` (a git repository on ``main``)."""

    def __init__(self, machine: RunnerMachine, stub: GitHubStub, full_name: str, template: Path) -> None:
        self.machine, self.stub, self.full_name = machine, stub, full_name
        self.owner, self.name = full_name.split("/")
        self.origin = machine.git_root / f"{full_name}.git"
        self.origin.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "--quiet", "--bare", str(template), str(self.origin), cwd=machine.root)
        git("symbolic-ref", "HEAD", "refs/heads/main", cwd=self.origin)
        git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=self.origin)  # GitHub serves any reachable SHA
        git("remote", "remove", "origin", cwd=self.origin)
        hook = self.origin / "hooks" / "pre-receive"
        hook.write_text(PRE_RECEIVE)
        hook.chmod(0o755)
        (self.origin / "writers").write_text(f"{WORKFLOW_TOKEN}\n")
        self._ids = itertools.count(1000 + 100 * len(list(machine.git_root.rglob("*.git"))))
        self.runs: list[Run] = []
        self._scratch = itertools.count(1)

    # --- git ---------------------------------------------------------------------------------------------------

    def clone(self, name: str, own_dvc_cache: bool = False) -> Clone:
        """A developer's clone of origin at ``<machine>/clones/<name>``.

        Its DVC cache is the machine's shared one, or with ``own_dvc_cache`` one of its own (so that what the
        developer makes reaches the runner only through a DVC remote).
        """
        path = self.machine.root / "clones" / name
        git("clone", "--quiet", str(self.origin), str(path), cwd=self.machine.root)
        env = {k: v for k, v in project_env(DEVELOPER | self.machine.env).items() if k != "VIRTUAL_ENV"}
        clone = Clone(path, env)
        if own_dvc_cache:
            env.pop("DVC_SYSTEM_CONFIG_DIR", None)
            clone.run("dvc", "cache", "dir", "--local", str(path.parent / f"{name}-dvc-cache"))
        return clone

    def head(self, ref: str = "refs/heads/main") -> str:
        """The commit ``ref`` points at in origin."""
        return git("rev-parse", ref, cwd=self.origin)

    def tags(self) -> dict[str, str]:
        """Tags in origin -> the commit each points at."""
        out = git(
            "for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)", "refs/tags", cwd=self.origin
        )
        return {
            name: peeled or obj
            for name, obj, *rest in (line.split(" ") for line in out.splitlines())
            for peeled in [rest[0] if rest else ""]
        }

    def workflow(self, commit: str, file: str) -> Path:
        """The workflow file as it is at ``commit`` (what GitHub runs), copied to a scratch file."""
        text = git("show", f"{commit}:.github/workflows/{file}", cwd=self.origin)
        path = self.machine.root / "workflows" / f"{next(self._scratch)}" / file
        path.parent.mkdir(parents=True)
        path.write_text(text + "\n")
        return path

    # --- pull requests -------------------------------------------------------------------------------------------

    def open_pull(self, number: int, head_ref: str, head_sha: str, head_repo: str | None = None) -> Pull:
        """Open (or, for a known number, update) pull request ``number`` from ``head_sha`` into main."""
        pull = Pull(number, head_ref, head_sha, head_repo or self.full_name)
        self._update_refs(pull)
        with self.stub.lock:
            pulls = [p for p in self.stub.state["pulls"] if p["number"] != number]
            pulls.append({"number": number, "head_repo": pull.head_repo, "head_ref": head_ref, "head_sha": head_sha,
                          "base_ref": "main", "state": "open"})  # fmt: skip
            self.stub.state["pulls"] = pulls
        return pull

    def _update_refs(self, pull: Pull) -> None:
        """``refs/pull/N/head`` and a merge commit of it into the base at ``refs/pull/N/merge``, as GitHub makes."""
        git("update-ref", f"refs/pull/{pull.number}/head", pull.head_sha, cwd=self.origin)
        pull.base_sha = self.head(f"refs/heads/{pull.base_ref}")
        work = self.machine.root / "merges" / f"{pull.number}-{next(self._scratch)}"
        git("clone", "--quiet", "--no-checkout", str(self.origin), str(work), cwd=self.machine.root)
        git("fetch", "--quiet", "origin", f"refs/pull/{pull.number}/head", cwd=work)
        git("checkout", "--quiet", "--detach", pull.base_sha, cwd=work)
        git("merge", "--quiet", "--no-ff", "-m", f"Merge {pull.head_sha} into {pull.base_sha}", pull.head_sha, cwd=work)
        pull.merge_sha = git("rev-parse", "HEAD", cwd=work)
        git("push", "--quiet", "origin", f"+HEAD:refs/pull/{pull.number}/merge", cwd=work)  # a new merge each push
        shutil.rmtree(work)

    # --- events ------------------------------------------------------------------------------------------------

    def repository_json(self) -> dict[str, Any]:
        """The ``repository`` object of an event payload."""
        return {
            "full_name": self.full_name,
            "name": self.name,
            "owner": {"login": self.owner},
            "default_branch": "main",
            "html_url": f"https://github.com/{self.full_name}",
        }

    def _act(
        self, name: str, workflow: Path, event_name: str, event: dict[str, Any], sha: str, **options: Any
    ) -> ActRun:
        secrets = {"GITHUB_TOKEN": options.pop("token", WORKFLOW_TOKEN)} | dict(options.pop("secrets", {}) or {})
        env = {"GITHUB_API_URL": self.stub.url} | dict(options.pop("env", {}) or {})
        return run_act(
            self.machine, name=name, workflow=workflow, event_name=event_name, event=event,
            repository=self.full_name, sha=sha, secrets=secrets, env=env, **options,
        )  # fmt: skip

    def _record(self, act: ActRun, workflow: Path, **facts: Any) -> Run:
        """Keep the finished run (``facts``: the :class:`Run` fields the event decides) for later events."""
        name = str(act.workflow.get("name", workflow.stem))
        path = f".github/workflows/{workflow.name}"
        run = Run(workflow=name, path=path, conclusion=act.conclusion, act=act, workflow_file=workflow, **facts)
        self.runs.append(run)
        return run

    def completed_run(
        self, workflow: str, event: str, sha: str, branch: str = "main", conclusion: str = "success"
    ) -> Run:
        """A run GitHub reports as finished without rehearsing it (e.g. ``ci`` passed on ``sha``)."""
        run = Run(
            id=next(self._ids), attempt=1, workflow=workflow.removesuffix(".yml"), path=f".github/workflows/{workflow}",
            event=event, conclusion=conclusion, head_branch=branch, head_sha=sha, head_repo=self.full_name,
        )  # fmt: skip
        self.runs.append(run)
        return run

    def push_run(self, name: str, file: str, before: str, after: str, branch: str = "main", **options: Any) -> Run:
        """GitHub's run of ``file`` for a push of ``branch`` from ``before`` to ``after``."""
        run_id = next(self._ids)
        event = {
            "ref": f"refs/heads/{branch}", "before": before, "after": after, "created": False, "deleted": False,
            "forced": False, "head_commit": {"id": after}, "repository": self.repository_json(),
            "pusher": {"name": "dev"}, "sender": {"login": "dev"},
        }  # fmt: skip
        workflow = options.pop("workflow", None) or self.workflow(after, file)
        act = self._act(name, workflow, "push", event, after, run_id=run_id, **options)
        return self._record(
            act, workflow, id=run_id, attempt=1, event="push", head_branch=branch, head_sha=after,
            head_repo=self.full_name, trigger=("push", event, after),
        )  # fmt: skip

    def pull_request_run(self, name: str, file: str, pull: Pull, action: str = "synchronize", **options: Any) -> Run:
        """GitHub's run of ``file`` (read from the merge commit) for ``pull``."""
        run_id = next(self._ids)
        head_owner = pull.head_repo.split("/")[0]
        pr = {
            "number": pull.number, "state": "open",
            "head": {"ref": pull.head_ref, "sha": pull.head_sha, "label": f"{head_owner}:{pull.head_ref}",
                     "repo": {"full_name": pull.head_repo, "fork": pull.head_repo != self.full_name}},
            "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": self.repository_json()},
        }  # fmt: skip
        event = {"action": action, "number": pull.number, "pull_request": pr, "repository": self.repository_json(),
                 "sender": {"login": head_owner}}  # fmt: skip
        workflow = options.pop("workflow", None) or self.workflow(pull.merge_sha, file)
        if pull.head_repo != self.full_name:  # a fork's run: read-only token, no secrets
            options.setdefault("token", READ_ONLY_TOKEN)
            options["secrets"] = {}
        act = self._act(name, workflow, "pull_request", event, pull.merge_sha, run_id=run_id, **options)
        same_repo = pull.head_repo == self.full_name
        pulls = [{"number": pull.number, "head": {"ref": pull.head_ref, "sha": pull.head_sha}}] if same_repo else []
        return self._record(
            act, workflow, id=run_id, attempt=1, event="pull_request", head_branch=pull.head_ref,
            head_sha=pull.head_sha, head_repo=pull.head_repo, pull_requests=pulls,
            trigger=("pull_request", event, pull.merge_sha),
        )  # fmt: skip

    def workflow_run_event(self, triggering: Run) -> dict[str, Any]:
        """The ``workflow_run`` (completed) payload describing ``triggering``."""
        head_owner = triggering.head_repo.split("/")[0]
        return {
            "action": "completed",
            "workflow_run": {
                "id": triggering.id, "name": triggering.workflow, "path": triggering.path,
                "run_attempt": triggering.attempt, "run_number": triggering.id, "event": triggering.event,
                "status": "completed", "conclusion": triggering.conclusion,
                "head_branch": triggering.head_branch, "head_sha": triggering.head_sha,
                "head_repository": {"full_name": triggering.head_repo, "owner": {"login": head_owner}},
                "repository": self.repository_json(), "pull_requests": triggering.pull_requests,
                "html_url": f"https://github.com/{self.full_name}/actions/runs/{triggering.id}",
            },
            "workflow": {"name": triggering.workflow, "path": triggering.path},
            "repository": self.repository_json(),
            "sender": {"login": "dev"},
        }  # fmt: skip

    def workflow_run_run(self, name: str, file: str, triggering: Run, attempt: int = 1, run_id: int | None = None,
                         **options: Any) -> Run:  # fmt: skip
        """GitHub's run of ``file`` (from the default branch) after ``triggering`` completed."""
        run_id = run_id or next(self._ids)
        main = self.head()
        workflow = options.pop("workflow", None) or self.workflow(main, file)
        event = self.workflow_run_event(triggering)
        act = self._act(name, workflow, "workflow_run", event, main, run_id=run_id, run_attempt=attempt, **options)
        return self._record(
            act, workflow, id=run_id, attempt=attempt, event="workflow_run", head_branch="main", head_sha=main,
            head_repo=self.full_name, trigger=("workflow_run", event, main),
        )  # fmt: skip

    def dispatch_run(self, name: str, file: str, branch: str = "main", inputs: Mapping[str, str] | None = None,
                     **options: Any) -> Run:  # fmt: skip
        """GitHub's run of ``file`` (from ``branch``) dispatched by hand with ``inputs``."""
        run_id = next(self._ids)
        sha = self.head(f"refs/heads/{branch}")
        workflow = options.pop("workflow", None) or self.workflow(sha, file)
        event = {"ref": f"refs/heads/{branch}", "inputs": dict(inputs or {}), "repository": self.repository_json(),
                 "sender": {"login": "dev"}, "workflow": f".github/workflows/{file}"}  # fmt: skip
        act = self._act(name, workflow, "workflow_dispatch", event, sha, run_id=run_id, **options)
        return self._record(
            act, workflow, id=run_id, attempt=1, event="workflow_dispatch", head_branch=branch, head_sha=sha,
            head_repo=self.full_name, trigger=("workflow_dispatch", event, sha),
        )  # fmt: skip

    def schedule_run(self, name: str, file: str, cron: str, **options: Any) -> Run:
        """GitHub's scheduled run of ``file`` (from the default branch) for the ``cron`` entry."""
        run_id = next(self._ids)
        sha = self.head()
        workflow = options.pop("workflow", None) or self.workflow(sha, file)
        event = {"schedule": cron, "repository": self.repository_json()}
        act = self._act(name, workflow, "schedule", event, sha, run_id=run_id, **options)
        return self._record(
            act, workflow, id=run_id, attempt=1, event="schedule", head_branch="main", head_sha=sha,
            head_repo=self.full_name, trigger=("schedule", event, sha),
        )  # fmt: skip

    def issue_labeled_run(self, name: str, file: str, issue: Mapping[str, Any], label: str, **options: Any) -> Run:
        """GitHub's run of ``file`` (from the default branch) after ``label`` was added to ``issue`` (its JSON)."""
        run_id = next(self._ids)
        sha = self.head()
        workflow = options.pop("workflow", None) or self.workflow(sha, file)
        event = {"action": "labeled", "label": {"name": label}, "issue": dict(issue),
                 "repository": self.repository_json(), "sender": {"login": "dev"}}  # fmt: skip
        act = self._act(name, workflow, "issues", event, sha, run_id=run_id, **options)
        return self._record(
            act, workflow, id=run_id, attempt=1, event="issues", head_branch="main", head_sha=sha,
            head_repo=self.full_name, trigger=("issues", event, sha),
        )  # fmt: skip

    # --- re-runs -----------------------------------------------------------------------------------------------

    def rerun_all(self, name: str, previous: Run, **options: Any) -> Run:
        """GitHub's "Re-run all jobs": the same run id and event, the next attempt, every job again."""
        return self._rerun(name, previous, previous.workflow_file, **options)

    def rerun_failed(self, name: str, previous: Run, **options: Any) -> Run:
        """GitHub's "Re-run failed jobs": jobs that succeeded keep their outputs and are not run again.

        act cannot resume a run, so the workflow is rewritten for this attempt: each job that succeeded becomes a
        job that only sets the outputs it produced (:func:`replay_workflow`); jobs that were skipped are left out.
        """
        workflow = replay_workflow(previous, self.machine.root / "workflows" / f"rerun-{next(self._scratch)}")
        return self._rerun(name, previous, workflow, **options)

    def _rerun(self, name: str, previous: Run, workflow: Path | None, **options: Any) -> Run:
        assert previous.trigger and previous.act and workflow, "only a rehearsed run can be re-run"
        event_name, event, sha = previous.trigger
        attempt = previous.attempt + 1
        act = self._act(name, workflow, event_name, event, sha, run_id=previous.id, run_attempt=attempt, **options)
        return self._record(
            act, workflow, id=previous.id, attempt=attempt, event=previous.event, head_branch=previous.head_branch,
            head_sha=previous.head_sha, head_repo=previous.head_repo, pull_requests=previous.pull_requests,
            trigger=previous.trigger,
        )  # fmt: skip


_STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}$")


def replay_workflow(previous: Run, folder: Path) -> Path:
    """``previous``'s workflow with each job that succeeded replaced by one that only sets its recorded outputs.

    A job output must be a plain ``${{ steps.<id>.outputs.<name> }}`` to be replayed (its value is read from the
    step outputs act logged); anything else raises, rather than replaying a guess.
    """
    assert previous.act and previous.workflow_file
    definition = yaml.safe_load(previous.workflow_file.read_text())
    definition["on"] = definition.pop(True, definition.get("on"))  # YAML 1.1 reads the key `on` as true
    results = previous.act.job_results()
    jobs: dict[str, Any] = {}
    for job_id, job in definition["jobs"].items():
        if results.get(job_id) == "success":
            outputs = {}
            for key, expression in (job.get("outputs") or {}).items():
                found = _STEP_OUTPUT.match(str(expression).strip())
                if not found:
                    raise NotImplementedError(f"cannot replay output {job_id}.{key} = {expression!r}")
                outputs[key] = previous.act.outputs(job_id, found[1]).get(found[2], "")
            message = f"re-run of failed jobs: {job_id} succeeded in attempt {previous.attempt}; outputs replayed"
            jobs[job_id] = {
                "runs-on": job.get("runs-on", "ubuntu-latest"),
                **({"needs": job["needs"]} if "needs" in job else {}),
                "outputs": outputs,
                "steps": [{"run": f"echo '{message}'"}],
            }
        elif results.get(job_id) == "failure":
            jobs[job_id] = job
    definition["jobs"] = jobs
    folder.mkdir(parents=True)
    path = folder / previous.workflow_file.name
    path.write_text(yaml.safe_dump(definition, sort_keys=False, width=1000))
    return path


def learning_rate(value: str) -> str:
    """params.yaml's HistGradientBoosting learning rate with its section line: LightGBM and XGBoost have one too."""
    return f"hist_gradient_boosting:\n    learning_rate: {value}"
