"""The one drift issue against the GitHub API stand-in: opened on drift, a comment per report, closed after N clear
checks, never two open, re-runs posting nothing twice.

The drift reports are written by tests/support/drift_reports.py in the drift check's format (stand-in until
``gitops-ml drift`` is merged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitops_ml.cli import app
from gitops_ml.gitops.drift_issue import (
    BODY_LIMIT,
    DRIFT_LABEL,
    DriftIssueError,
    Findings,
    cap_markdown,
    read_findings,
    sync_drift_issue,
    utf16_length,
)
from gitops_ml.gitops.github_api import GitHub, GitHubError
from tests.support.drift_reports import write_drift_reports
from tests.support.github_stub import GitHubStub
from tests.support.markdown_text import outside_code
from tests.support.projects import ROOT

REPO = "acme/fraud-model"
BOT = "github-actions[bot]"
TOKEN = "workflow-token"


def seed(**more: object) -> dict:
    return {"repository": REPO, "tokens": {TOKEN: BOT, "alice-token": "alice"}} | more


def findings(tmp_path: Path, run: int, drift: bool, drifted: tuple[str, ...] = ("amount",)) -> Findings:
    folder = write_drift_reports(tmp_path / f"run-{run}", drift, drifted)
    return read_findings(folder / "drift.json", folder / "drift.md", report_id=f"run-{run}")


def check(stub: GitHubStub, found: Findings, close_after: int = 3):
    with GitHub(REPO, TOKEN, stub.url) as api:
        return sync_drift_issue(api, found, close_after, say=lambda _: None)


def drift_issues(stub: GitHubStub, state: str = "all") -> list[dict]:
    return stub.issues(label=DRIFT_LABEL, state=state)


def test_drift_opens_one_labelled_issue_with_the_report(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        update = check(stub, findings(tmp_path, 1, drift=True, drifted=("amount", "hour")))
        assert update.action == "opened"
        [issue] = drift_issues(stub)
        assert update.issue is not None and update.issue.number == issue["number"]
        assert issue["title"] == "Model drift: amount, hour"
        assert issue["body"].startswith("<!-- gitops-ml:drift-report id=run-1 drift=true -->")
        assert "| `amount` | numeric | **0.4100** |" in issue["body"], "the drift check's report is in the body"
        assert "`monitor.clear_runs_to_close`" in issue["body"] and "`retrain`" in issue["body"]
        with stub.lock:
            labels = {label["name"] for label in stub.state["labels"]}
        assert labels == {"model-drift", "retrain"}


def test_no_drift_and_no_issue_writes_nothing(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        assert check(stub, findings(tmp_path, 1, drift=False)).action == "nothing"
        assert stub.writes() == []


def test_repeated_drift_is_a_comment_on_the_same_issue(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        check(stub, findings(tmp_path, 1, drift=True))
        update = check(stub, findings(tmp_path, 2, drift=True, drifted=("hour",)))
        assert update.action == "commented"
        [issue] = drift_issues(stub)
        [comment] = stub.comments(issue["number"])
        assert comment["body"].startswith("<!-- gitops-ml:drift-report id=run-2 drift=true -->")
        assert "### Drift persists: `hour`" in comment["body"]
        assert comment["user"]["login"] == BOT


def test_clear_checks_are_counted_and_the_issue_closes_after_n(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        check(stub, findings(tmp_path, 1, drift=True))
        first = check(stub, findings(tmp_path, 2, drift=False))
        second = check(stub, findings(tmp_path, 3, drift=False))
        assert (first.action, first.clear_runs, second.action, second.clear_runs) == ("commented", 1, "commented", 2)
        [issue] = drift_issues(stub)
        assert issue["state"] == "open"
        bodies = [c["body"] for c in stub.comments(issue["number"])]
        assert "(1 of 3 clear checks in a row" in bodies[0] and "(2 of 3 clear checks in a row" in bodies[1]
        third = check(stub, findings(tmp_path, 4, drift=False))
        assert (third.action, third.clear_runs) == ("closed", 3)
        [closed] = drift_issues(stub)
        assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
        assert "No drift for 3 checks in a row: closing this issue" in stub.comments(issue["number"])[-1]["body"]
        writes = len(stub.writes())
        assert check(stub, findings(tmp_path, 5, drift=False)).action == "nothing"
        assert len(stub.writes()) == writes


def test_drift_between_clear_checks_starts_the_count_again(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        for run, drift in enumerate([True, False, False, True, False, False], start=1):
            update = check(stub, findings(tmp_path, run, drift=drift))
        assert (update.action, update.clear_runs) == ("commented", 2)
        assert [i["state"] for i in drift_issues(stub)] == ["open"]


def test_the_close_after_knob_is_honoured(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        check(stub, findings(tmp_path, 1, drift=True), close_after=1)
        assert check(stub, findings(tmp_path, 2, drift=False), close_after=1).action == "closed"


def test_never_two_open_issues(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        check(stub, findings(tmp_path, 1, drift=True))
        for run in (2, 3, 4):
            check(stub, findings(tmp_path, run, drift=False))
        reopened = check(stub, findings(tmp_path, 5, drift=True))
        assert reopened.action == "opened", "drift after the issue closed opens a new one"
        assert [i["state"] for i in drift_issues(stub)] == ["closed", "open"]
        assert check(stub, findings(tmp_path, 6, drift=True)).action == "commented"
        assert len(drift_issues(stub, state="open")) == 1


def test_with_two_open_drift_issues_the_oldest_is_used_and_none_is_opened(tmp_path: Path):
    issues = [{"number": n, "labels": [DRIFT_LABEL], "user": "alice"} for n in (4, 9)]
    with GitHubStub(seed(issues=issues)) as stub:
        update = check(stub, findings(tmp_path, 1, drift=True))
        assert (update.action, update.issue.number, update.others_open) == ("commented", 4, (9,))
        assert len(stub.comments(4)) == 1 and stub.comments(9) == []
        assert [i["number"] for i in drift_issues(stub)] == [4, 9]


def test_a_rerun_posts_nothing_twice(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        opened = check(stub, findings(tmp_path, 1, drift=True))
        writes = len(stub.writes())
        again = check(stub, findings(tmp_path, 1, drift=True))
        assert (again.action, again.issue.number) == ("already recorded", opened.issue.number)
        check(stub, findings(tmp_path, 2, drift=False))
        writes = len(stub.writes())
        assert check(stub, findings(tmp_path, 2, drift=False)).action == "already recorded"
        assert len(stub.writes()) == writes, "a re-run of a clear check adds no comment and counts nothing"
        assert [c["body"].splitlines()[0] for c in stub.comments(opened.issue.number)] == [
            "<!-- gitops-ml:drift-report id=run-2 drift=false -->"
        ]


def test_a_rerun_of_the_run_that_opened_a_closed_issue_opens_nothing(tmp_path: Path):
    with GitHubStub(seed()) as stub:
        check(stub, findings(tmp_path, 1, drift=True), close_after=1)
        check(stub, findings(tmp_path, 2, drift=False), close_after=1)
        writes = len(stub.writes())
        assert check(stub, findings(tmp_path, 1, drift=True), close_after=1).action == "already recorded"
        assert len(stub.writes()) == writes


def test_a_rerun_after_a_failed_close_finishes_the_close(tmp_path: Path):
    """The third clear comment was posted but the run failed before closing: its re-run only closes."""
    marker = "<!-- gitops-ml:drift-report id=run-{} drift={} -->\nreport"
    state = seed(
        issues=[{"number": 4, "labels": [DRIFT_LABEL], "user": BOT, "body": marker.format(1, "true")}],
        comments=[{"id": i, "issue_number": 4, "body": marker.format(i, "false"), "user": BOT} for i in (2, 3, 4)],
    )
    with GitHubStub(state) as stub:
        update = check(stub, findings(tmp_path, 4, drift=False))
        assert (update.action, update.clear_runs) == ("closed", 3)
        assert [(c.method, c.path) for c in stub.writes()] == [("PATCH", f"/repos/{REPO}/issues/4")]


def test_markers_written_by_anyone_but_the_bot_do_not_count(tmp_path: Path):
    fake = "<!-- gitops-ml:drift-report id=fake-{} drift=false -->"
    state = seed(
        issues=[{"number": 4, "labels": [DRIFT_LABEL], "user": BOT, "body": fake.format(0).replace("false", "true")}],
        comments=[{"id": i, "issue_number": 4, "body": fake.format(i), "user": "alice"} for i in (1, 2, 3)],
    )
    with GitHubStub(state) as stub:
        update = check(stub, findings(tmp_path, 7, drift=False))
        assert (update.action, update.clear_runs) == ("commented", 1)
        assert drift_issues(stub)[0]["state"] == "open"


def test_api_errors_name_the_call(tmp_path: Path):
    with (
        GitHubStub(seed()) as stub,
        GitHub(REPO, "stolen", stub.url) as api,
        pytest.raises(GitHubError, match=r"list open issues labelled model-drift: GitHub answered 401 .*GITHUB_TOKEN"),
    ):
        sync_drift_issue(api, findings(tmp_path, 1, drift=True), 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"drift.json not found: run the drift check first"),
        ("{not json", r"is not valid JSON"),
        ('{"drifted": []}', r"no boolean `drift`"),
        ('{"drift": "yes"}', r"no boolean `drift`"),
        ('{"drift": true, "drifted": "amount"}', r"`drifted` must be a list"),
    ],
)
def test_bad_reports_are_refused_with_the_fix(tmp_path: Path, content: str | None, message: str):
    (tmp_path / "drift.md").write_text("# report\n")
    if content is not None:
        (tmp_path / "drift.json").write_text(content)
    with pytest.raises(DriftIssueError, match=message):
        read_findings(tmp_path / "drift.json", tmp_path / "drift.md")


def test_the_same_report_without_a_run_id_is_recognised(tmp_path: Path):
    folder = write_drift_reports(tmp_path, drift=True, drifted=("amount",))
    one = read_findings(folder / "drift.json", folder / "drift.md")
    assert one == read_findings(folder / "drift.json", folder / "drift.md")
    assert one.report_id.startswith("sha256-") and (one.rows, one.model_version) == (800, "model-v1")
    assert one.compared_with == "model-v1"


def test_a_huge_report_is_cut_to_fit_with_its_chart_closed():
    chart = "```mermaid\n" + "".join(f"  bar [{i}]\n" for i in range(40_000)) + "```\n"
    capped = cap_markdown("## Drift\n\n" + chart, BODY_LIMIT - 1_000)
    assert utf16_length(capped) <= BODY_LIMIT - 1_000
    assert capped.count("```") == 2, "the cut chart's fence is closed"
    assert capped.rstrip().endswith("whole report is in the run's job summary._")
    assert cap_markdown("short\n", 100) == "short\n"


def test_the_command_syncs_the_issue_and_writes_the_job_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_drift_reports(tmp_path / "reports", drift=True, drifted=("amount",))
    (tmp_path / "params.yaml").write_text((ROOT / "tests/fixtures/project/params.yaml").read_text())
    summary = tmp_path / "summary.md"
    monkeypatch.chdir(tmp_path)
    with GitHubStub(seed()) as stub:
        env = {"GITHUB_API_URL": stub.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_RUN_ID": "77",
               "GITHUB_SERVER_URL": "https://github.com", "GITHUB_STEP_SUMMARY": str(summary)}  # fmt: skip
        result = CliRunner().invoke(app, ["drift-issue"], env=env)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("opened: #1")
        [issue] = drift_issues(stub)
        assert "[the run](https://github.com/acme/fraud-model/actions/runs/77)" in issue["body"]
        assert "**Drift issue:** opened, #1" in summary.read_text()
        again = CliRunner().invoke(app, ["drift-issue"], env=env)
        assert again.exit_code == 0 and again.stdout.startswith("already recorded: #1")
        refused = CliRunner().invoke(app, ["drift-issue"], env=env | {"GITHUB_TOKEN": "nope"})
        assert refused.exit_code == 1
        assert "GitHub answered 401" in refused.output and "Traceback" not in refused.output


def test_monitor_source_says_what_to_set_when_the_variable_is_missing(tmp_path: Path):
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "PREDICTION_LOG_URL": ""}
    assert CliRunner().invoke(app, ["monitor-source"], env=env).exit_code == 0
    assert output.read_text() == "configured=false\n"
    assert "`PREDICTION_LOG_URL` is not set" in summary.read_text()
    set_env = env | {"PREDICTION_LOG_URL": "s3://bucket/logs/"}
    assert CliRunner().invoke(app, ["monitor-source"], env=set_env).exit_code == 0
    assert output.read_text().splitlines() == ["configured=false", "configured=true"]
    assert json.dumps(summary.read_text()).count("not set") == 1, "nothing added to the summary when it is set"


def test_text_from_the_reports_cannot_mention_or_reference_in_the_issue():
    """Every text from drift.json goes through the one Markdown helper (code spans), the check's time included."""
    from gitops_ml.gitops.drift_issue import issue_body, report_comment

    found = Findings(
        report_id="run-1",
        drift=True,
        drifted=("amount` @octocat #7 `", "x"),
        markdown="",
        rows=10,
        checked_at="2026-05-31 @octocat #8",
        model_version="model-v1`@octocat`",
        compared_with="``#9``",
    )
    for body in (issue_body(found, 3), report_comment(found, 0, 3)):
        live = outside_code(body)
        assert "@" not in live, live
        assert not {"#7", "#8", "#9"} & set(live.split()), live
