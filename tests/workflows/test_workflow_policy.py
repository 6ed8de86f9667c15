"""Hardening policy over every workflow in .github/workflows (including ones added later).

The rules: ``permissions: {}`` at the top and per-job grants; every ``uses:`` pinned to a full commit SHA with
a ``# vX.Y.Z`` comment; ``persist-credentials: false`` on checkout; no ``${{ }}`` inside ``run:``; no
``pull_request_target``; every ``run:`` calls ``make`` or the ``gitops-ml`` CLI; every make target a workflow
calls exists in the Makefile; setup-uv takes uv's version from ``.tool-versions``; no cache in a job that can
write; and the ``workflow_run`` comment workflow never checks out anything but the default branch, uses no
secret, and gives the workflow token only to the step that posts.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+){0,2}\b")
ALLOWED_RUN = (("make",), ("uv", "run", "--frozen", "gitops-ml"))


def _load(path: Path) -> dict:
    # PyYAML reads the key `on` as True; keep it as the string GitHub means.
    text = path.read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader: only str/list/dict
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def _steps(workflow: dict):
    for job_name, job in workflow.get("jobs", {}).items():
        for step in job.get("steps", []) or []:
            yield job_name, step


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def test_there_are_workflows():
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "pr-comment.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_top_level_permissions_are_empty_and_jobs_declare_theirs(path: Path):
    workflow = _load(path)
    assert workflow.get("permissions") == {}, f"{path.name}: needs `permissions: {{}}` at the top"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} must declare its own least permissions"
        grants = job["permissions"]
        assert isinstance(grants, dict), f"{path.name}: job {name} permissions must be a mapping, not {grants!r}"
        assert all(v in ("read", "write", "none") for v in grants.values())


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_pull_request_target(path: Path):
    assert "pull_request_target" not in _load(path).get("on", {}), f"{path.name}: pull_request_target is banned"
    assert "pull_request_target" not in path.read_text(encoding="utf-8").split("#")[0]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_to_sha_with_version_comment(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    uses_lines = [line for line in lines if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses_lines or "uses:" not in path.read_text(encoding="utf-8")
    for line in uses_lines:
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{path.name}: `{ref}` is not pinned to a full commit SHA"
        assert VERSION_COMMENT.search(line), f"{path.name}: `{ref}` needs a `# vX.Y.Z` comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_does_not_persist_credentials(path: Path):
    for job, step in _steps(_load(path)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") == "false", (
                f"{path.name}: checkout in job {job} needs persist-credentials: false"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_setup_uv_installs_the_pinned_uv(path: Path):
    """setup-uv otherwise installs whatever uv is newest; .tool-versions is the one uv version of the project."""
    for job, step in _steps(_load(path)):
        if str(step.get("uses", "")).startswith("astral-sh/setup-uv@"):
            assert step.get("with", {}).get("version-file") == ".tool-versions", (
                f"{path.name}: setup-uv in job {job} needs `version-file: .tool-versions`"
            )


def test_tool_versions_pins_an_exact_uv():
    assert re.fullmatch(r"uv \d+\.\d+\.\d+\n", (ROOT / ".tool-versions").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_steps_are_thin_and_expression_free(path: Path):
    for job, step in _steps(_load(path)):
        if "run" not in step:
            continue
        script = step["run"]
        assert "${{" not in script, f"{path.name}: job {job}: pass `${{{{ }}}}` through env:, not inside run:"
        commands = [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert len(commands) == 1, f"{path.name}: job {job}: a run: step is one command, got {commands}"
        words = shlex.split(commands[0])
        assert any(tuple(words[: len(prefix)]) == prefix for prefix in ALLOWED_RUN), (
            f"{path.name}: job {job}: `{commands[0]}` must call make or `uv run --frozen gitops-ml`"
        )
        assert not re.search(r"[;&|`]|\$\(", commands[0]), f"{path.name}: job {job}: no shell logic in run:"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_make_targets_called_by_workflows_exist(path: Path):
    targets = make_targets()
    for job, step in _steps(_load(path)):
        words = shlex.split(step.get("run", "")) if "run" in step else []
        if words[:1] == ["make"]:
            called = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            assert called, f"{path.name}: job {job}: name the make target explicitly"
            missing = [t for t in called if t not in targets]
            assert not missing, f"{path.name}: job {job}: make target(s) {missing} not in the Makefile"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_setup_uv_takes_the_version_from_tool_versions(path: Path):
    for job, step in _steps(_load(path)):
        if str(step.get("uses", "")).startswith("astral-sh/setup-uv@"):
            assert step.get("with", {}).get("version-file") == ".tool-versions", (
                f"{path.name}: setup-uv in job {job} needs `version-file: .tool-versions` (the uv the Makefile uses)"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_cache_in_a_job_that_can_write(path: Path):
    for name, job in _load(path)["jobs"].items():
        if "write" not in (job.get("permissions") or {}).values():
            continue
        for step in job.get("steps", []) or []:
            uses = str(step.get("uses", ""))
            assert not uses.startswith("actions/cache@"), f"{path.name}: job {name} can write; no actions/cache"
            if uses.startswith("astral-sh/setup-uv@"):
                assert step.get("with", {}).get("enable-cache") == "false", (
                    f"{path.name}: job {name} can write; setup-uv needs `enable-cache: false`"
                )


def test_the_comment_workflow_runs_no_pull_request_code_and_holds_no_secret():
    path = ROOT / ".github" / "workflows" / "pr-comment.yml"
    workflow = _load(path)
    assert set(workflow["on"]) == {"workflow_run"}
    assert "secrets." not in path.read_text(encoding="utf-8")
    token_steps = []
    for job, step in _steps(workflow):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert not {"ref", "repository"} & set(step.get("with", {})), (
                f"pr-comment.yml: checkout in job {job} must check out the default branch, never a PR ref"
            )
        if "github.token" in str(step.get("env", {})):
            token_steps.append(step["run"])
    assert token_steps == ["uv run --frozen gitops-ml post-pr-comment artifact"]


def test_policy_catches_violations(tmp_path: Path):
    """The checks above fail on a workflow that breaks the rules (they cannot pass vacuously)."""
    bad = {
        "on": {"pull_request_target": {}},
        "jobs": {"x": {"runs-on": "ubuntu-latest", "steps": [{"run": "echo ${{ github.head_ref }}"}]}},
    }
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(bad).replace("'on'", "on") + "      # uses: actions/checkout@v4\n")
    with pytest.raises(AssertionError):
        test_top_level_permissions_are_empty_and_jobs_declare_theirs(path)
    with pytest.raises(AssertionError):
        test_no_pull_request_target(path)
    with pytest.raises(AssertionError):
        test_run_steps_are_thin_and_expression_free(path)
    pinned = tmp_path / "unpinned.yml"
    pinned.write_text("jobs:\n  x:\n    steps:\n      - uses: actions/checkout@v4\n")
    with pytest.raises(AssertionError):
        test_actions_pinned_to_sha_with_version_comment(pinned)
    unpinned_uv = tmp_path / "uv.yml"
    unpinned_uv.write_text("jobs:\n  x:\n    steps:\n      - uses: astral-sh/setup-uv@" + "a" * 40 + " # v7.0.0\n")
    with pytest.raises(AssertionError):
        test_setup_uv_installs_the_pinned_uv(unpinned_uv)
    missing = tmp_path / "missing.yml"
    missing.write_text("jobs:\n  x:\n    steps:\n      - run: make no-such-target\n")
    with pytest.raises(AssertionError):
        test_make_targets_called_by_workflows_exist(missing)
    cached = tmp_path / "cached.yml"
    cached.write_text(
        "jobs:\n  x:\n    permissions:\n      contents: write\n    steps:\n"
        "      - uses: astral-sh/setup-uv@eb1897b8dc4b5d5bfe39a428a8f2304605e0983c # v7.0.0\n"
        "        with:\n          enable-cache: true\n"
    )
    with pytest.raises(AssertionError):
        test_no_cache_in_a_job_that_can_write(cached)
    with pytest.raises(AssertionError):
        test_setup_uv_takes_the_version_from_tool_versions(cached)
    cml = tmp_path / "cml.yml"
    cml.write_text("jobs:\n  x:\n    steps:\n      - run: cml comment update --target=pr/1 report.md\n")
    with pytest.raises(AssertionError):
        test_run_steps_are_thin_and_expression_free(cml)
