"""monitor.yml and retrain.yml hold their write grants where they are needed and nowhere else."""

from __future__ import annotations

from pathlib import Path

from tests.workflows.test_workflow_policy import ROOT, _load, _steps

WORKFLOWS = ROOT / ".github" / "workflows"


def _token_steps(workflow: dict) -> list[tuple[str, str]]:
    """(job, run) of every step that is handed a token in its env."""
    return [(job, step.get("run", "")) for job, step in _steps(workflow) if "token" in str(step.get("env", {})).lower()]


def test_monitor_runs_daily_and_by_hand_and_only_the_issue_job_writes():
    workflow = _load(WORKFLOWS / "monitor.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    grants = {name: job["permissions"] for name, job in workflow["jobs"].items()}
    assert grants == {"check": {"contents": "read"}, "issue": {"contents": "read", "issues": "write"}}
    assert _token_steps(workflow) == [("issue", "uv run --frozen gitops-ml drift-issue")]
    assert workflow["jobs"]["issue"]["if"] == "needs.check.outputs.configured == 'true'"


def test_retrain_can_push_and_open_a_pull_request_and_nothing_else():
    workflow = _load(WORKFLOWS / "retrain.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "issues"}
    assert workflow["on"]["issues"] == {"types": ["labeled"]}
    [(name, job)] = workflow["jobs"].items()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert "'retrain'" in job["if"] and "'model-drift'" in job["if"]
    assert _token_steps(workflow) == [(name, "make retrain PR=1")]


def test_the_documented_settings_are_the_ones_the_workflows_read():
    docs = (ROOT / "docs" / "retraining.md").read_text(encoding="utf-8")
    for path in (WORKFLOWS / "monitor.yml", WORKFLOWS / "retrain.yml"):
        text = Path(path).read_text(encoding="utf-8")
        for setting in ("PREDICTION_LOG_URL", "RETRAIN_WINDOW_URL", "RETRAIN_TOKEN", "DVC_REMOTE_URL"):
            if f".{setting}" in text:
                assert f"`{setting}`" in docs, f"{path.name} reads {setting}; docs/retraining.md must explain it"
