"""The one drift issue: opened when the drift check finds drift, a comment per report, closed once drift has cleared.

``monitor.yml`` runs the drift check (``gitops-ml drift``, which writes ``reports/drift.json`` and ``drift.md``)
and then :func:`sync_drift_issue`, which keeps **at most one** open issue labelled :data:`DRIFT_LABEL`:

- drift, no open issue: open one, its body the report;
- an open issue: add the report as a comment (drift or not);
- no drift for ``monitor.clear_runs_to_close`` runs in a row: close the issue;
- no drift and no open issue: nothing.

The state lives on GitHub, not in a file the next scheduled run would not have: every report the bot posts (the
issue's body and its comments) starts with a marker naming the report and whether it found drift
(:data:`MARKER_FORMAT`), and the run of clear reports is counted back from the newest. Only markers in text the
bot's account wrote count, so nobody can close the issue by commenting a fake marker. A report is named by the
workflow run (``GITHUB_RUN_ID``, the same in every attempt), so re-running a run posts nothing twice, and a run
that failed between its comment and the close finishes the close when re-run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gitops_ml.errors import ProjectError
from gitops_ml.gitops.github_api import Comment, GitHub, Issue
from gitops_ml.gitops.markdown import code_span

DRIFT_LABEL = "model-drift"
RETRAIN_LABEL = "retrain"
LABELS = {
    DRIFT_LABEL: ("d93f0b", "The drift check found drift in production data (monitor.yml)"),
    RETRAIN_LABEL: ("0e8a16", "Add this to a model-drift issue to start retrain.yml"),
}
DEFAULT_BOT_LOGIN = "github-actions[bot]"
MARKER_FORMAT = "<!-- gitops-ml:drift-report id={id} drift={drift} -->"
_MARKER = re.compile(r"\A<!-- gitops-ml:drift-report id=(?P<id>[A-Za-z0-9._:-]{1,100}) drift=(?P<drift>true|false) -->")
_REPORT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
BODY_LIMIT = 65_536  # GitHub's limit for an issue body or a comment, in UTF-16 code units
_MARGIN = 500
TITLE_LIMIT = 256
DOCS = "docs/retraining.md"

Action = Literal["opened", "commented", "closed", "already recorded", "nothing"]


class DriftIssueError(ProjectError, ValueError):
    """The drift reports cannot be read, or say something the drift issue cannot act on."""


@dataclass(frozen=True)
class Findings:
    """What one drift check found, as ``reports/drift.json`` and ``drift.md`` say."""

    report_id: str
    drift: bool
    drifted: tuple[str, ...]
    markdown: str
    rows: int | None = None
    checked_at: str | None = None
    model_version: str | None = None
    compared_with: str | None = None
    """The release (or, for an unreleased commit, the short commit) whose training data the window was compared
    with: drift.json's ``reference.model_version`` or ``reference.commit``."""


@dataclass(frozen=True)
class Recorded:
    """One report already on the issue (its body or a bot comment)."""

    report_id: str
    drift: bool


@dataclass(frozen=True)
class IssueUpdate:
    """What :func:`sync_drift_issue` did, to which issue, and the clear runs counted so far (this one included)."""

    action: Action
    issue: Issue | None
    clear_runs: int
    others_open: tuple[int, ...] = ()


def read_findings(json_path: Path, md_path: Path, report_id: str | None = None) -> Findings:
    """The drift check's verdict from ``drift.json`` and its Markdown report from ``drift.md``.

    ``report_id`` names the report (the workflow run); without one, the hash of ``drift.json`` does, so the same
    report given twice is recognised.
    """
    for path in (json_path, md_path):
        if not path.is_file():
            raise DriftIssueError(f"{path} not found: run the drift check first (`make drift CURRENT=...`)")
    raw = json_path.read_bytes()
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:
        raise DriftIssueError(f"{json_path} is not valid JSON ({exc}): run the drift check again") from None
    if not isinstance(data, dict) or not isinstance(data.get("drift"), bool):
        raise DriftIssueError(f"{json_path} has no boolean `drift` at its top level: is it the drift check's report?")
    drifted = data.get("drifted", [])
    if not isinstance(drifted, list) or not all(isinstance(name, str) for name in drifted):
        raise DriftIssueError(f"{json_path}: `drifted` must be a list of feature names")
    window = data.get("window")
    rows = window.get("rows") if isinstance(window, dict) and isinstance(window.get("rows"), int) else None
    report_id = report_id or f"sha256-{hashlib.sha256(raw).hexdigest()[:16]}"
    if not _REPORT_ID.fullmatch(report_id):
        raise DriftIssueError(f"report id {report_id!r}: use letters, digits and . _ : - (at most 100)")
    return Findings(
        report_id=report_id,
        drift=data["drift"],
        drifted=tuple(drifted),
        markdown=md_path.read_text(encoding="utf-8"),
        rows=rows,
        checked_at=_text(data.get("checked_at")),
        model_version=_text(data.get("model_version")),
        compared_with=_compared_with(data.get("reference")),
    )


def _compared_with(reference: object) -> str | None:
    if not isinstance(reference, dict):
        return None
    commit = _text(reference.get("commit"))
    return _text(reference.get("model_version")) or (commit[:12] if commit else None)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- what is posted --------------------------------------------------------------------------------------------


def marker(findings: Findings) -> str:
    """The first line of every report the bot posts: which report, and whether it found drift."""
    return MARKER_FORMAT.format(id=findings.report_id, drift="true" if findings.drift else "false")


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(code_span(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _facts(findings: Findings, run_url: str | None) -> str:
    parts = []
    if findings.rows is not None:
        parts.append(f"{findings.rows} records")
    if findings.model_version:
        parts.append(f"model {code_span(findings.model_version)}")
    if findings.compared_with:
        parts.append(f"compared with {code_span(findings.compared_with)}")
    if findings.checked_at:
        parts.append(f"checked {code_span(findings.checked_at)}")
    facts = f" ({', '.join(parts)})" if parts else ""
    return facts + (f"; [the run]({run_url})" if run_url else "")


def utf16_length(text: str) -> int:
    """Length as GitHub counts it against its body limit (UTF-16 code units)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def cap_markdown(text: str, budget: int) -> str:
    """``text`` cut at a line boundary to fit ``budget`` UTF-16 units, closing a code fence the cut left open.

    Hand-written because the cut must keep Markdown valid (a Mermaid chart cut in half would swallow the rest).
    """
    if utf16_length(text) <= budget:
        return text
    note = "\n_The report is cut here to fit GitHub's size limit; the whole report is in the run's job summary._\n"
    kept: list[str] = []
    used = utf16_length(note) + 8  # room for a closing fence
    fenced = False
    for line in text.splitlines(keepends=True):
        size = utf16_length(line)
        if used + size > budget:
            break
        kept.append(line)
        used += size
        if line.lstrip().startswith("```"):
            fenced = not fenced
    closing = "```\n" if fenced else ""
    return "".join(kept).rstrip("\n") + "\n" + closing + note


def _with_report(head: str, findings: Findings) -> str:
    budget = BODY_LIMIT - _MARGIN - utf16_length(head)
    return head + cap_markdown(findings.markdown, budget)


def issue_title(findings: Findings) -> str:
    """``Model drift: amount, country`` (at most GitHub's 256 characters)."""
    names = ", ".join(findings.drifted) or "the window"
    title = f"Model drift: {names}"
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def issue_body(findings: Findings, clear_runs_to_close: int, run_url: str | None = None) -> str:
    """The new issue's body: the marker, what drifted, what happens next, what to do, then the report."""
    head = "\n".join(
        [
            marker(findings),
            "## Model drift detected",
            "",
            f"The drift check found drift in {_names(findings.drifted) or 'the window'}{_facts(findings, run_url)}.",
            "",
            "This issue stays open while drift lasts: each later check adds its report here as a comment, and the "
            f"issue is closed after {clear_runs_to_close} checks in a row find no drift "
            "(`monitor.clear_runs_to_close` in params.yaml).",
            "",
            f"**What to do** ({DOCS}): get a labelled window of recent data and retrain on it. Add the label "
            f"`{RETRAIN_LABEL}` to this issue to start `retrain.yml` on the window the `RETRAIN_WINDOW_URL` "
            "variable names, or run `retrain.yml` by hand (Actions → retrain → Run workflow) with the window's "
            "location. It opens a pull request whose report compares the retrained model with main; merging it "
            "releases through the gate as usual.",
            "",
            "---",
            "",
        ]
    )
    return _with_report(head, findings)


def report_comment(findings: Findings, clear_runs: int, clear_runs_to_close: int, run_url: str | None = None) -> str:
    """A later report on the open issue: drift persists, one more clear run, or the clear run that closes it."""
    if findings.drift:
        heading = f"### Drift persists: {_names(findings.drifted) or 'the window'}"
    elif clear_runs >= clear_runs_to_close:
        heading = f"### No drift for {clear_runs} checks in a row: closing this issue"
    else:
        heading = (
            f"### No drift in this check ({clear_runs} of {clear_runs_to_close} clear checks in a row before this "
            "issue is closed)"
        )
    head = "\n".join([marker(findings), heading, "", f"Drift check{_facts(findings, run_url)}.", "", "---", "", ""])
    return _with_report(head, findings)


# --- the state on GitHub ---------------------------------------------------------------------------------------


def recorded_report(text: str) -> Recorded | None:
    """The report a body or comment carries, from its marker (None when it carries none)."""
    found = _MARKER.match(text)
    return Recorded(found["id"], found["drift"] == "true") if found else None


def history(issue: Issue, comments: Sequence[Comment], bot_login: str) -> list[Recorded]:
    """The reports on ``issue``, oldest first: its body, then the bot's marked comments (anyone else's are ignored)."""
    texts = [issue.body] if issue.user_login == bot_login else []
    texts += [c.body for c in comments if c.user_login == bot_login]
    return [found for text in texts if (found := recorded_report(text))]


def clear_streak(reports: Sequence[Recorded]) -> int:
    """How many of the newest reports in a row found no drift."""
    streak = 0
    for report in reversed(reports):
        if report.drift:
            break
        streak += 1
    return streak


def sync_drift_issue(
    api: GitHub,
    findings: Findings,
    clear_runs_to_close: int,
    bot_login: str = DEFAULT_BOT_LOGIN,
    run_url: str | None = None,
    say: Callable[[str], None] = print,
) -> IssueUpdate:
    """Open, comment on or close the one drift issue for ``findings``; see the module's docstring.

    Never opens a second issue: when several open issues carry the label (someone opened one by hand), the oldest
    is the drift issue and the others are named in the result and left alone.
    """
    if clear_runs_to_close < 1:
        raise DriftIssueError(f"monitor.clear_runs_to_close must be at least 1, got {clear_runs_to_close}")
    open_issues = api.issues_with_label(DRIFT_LABEL)
    others = tuple(i.number for i in open_issues[1:])
    if others:
        say(f"warning: issues {', '.join(f'#{n}' for n in others)} also carry {DRIFT_LABEL}; only the oldest is used")
    if not open_issues:
        return _no_open_issue(api, findings, clear_runs_to_close, run_url, say)
    issue = open_issues[0]
    reports = history(issue, api.issue_comments(issue.number), bot_login)
    action: Action = "already recorded"
    if any(r.report_id == findings.report_id for r in reports):
        say(f"report {findings.report_id} is already on #{issue.number}; not posted again")
    else:
        streak = 0 if findings.drift else clear_streak(reports) + 1
        api.create_comment(issue.number, report_comment(findings, streak, clear_runs_to_close, run_url))
        reports.append(Recorded(findings.report_id, findings.drift))
        action = "commented"
        say(f"added the report to #{issue.number}: {'drift' if findings.drift else 'no drift'}")
    streak = clear_streak(reports)
    if streak >= clear_runs_to_close:
        closed = api.close_issue(issue.number)
        say(f"closed #{issue.number}: no drift for {streak} checks in a row")
        return IssueUpdate("closed", closed, streak, others)
    return IssueUpdate(action, issue, streak, others)


def _no_open_issue(
    api: GitHub, findings: Findings, clear_runs_to_close: int, run_url: str | None, say: Callable[[str], None]
) -> IssueUpdate:
    if not findings.drift:
        say("no drift, and no drift issue is open: nothing to do")
        return IssueUpdate("nothing", None, 0)
    for closed in api.issues_with_label(DRIFT_LABEL, state="closed"):
        earlier = recorded_report(closed.body)
        if earlier and earlier.report_id == findings.report_id:  # a re-run of the run that opened it
            say(f"report {findings.report_id} already opened #{closed.number} (closed since); nothing to do")
            return IssueUpdate("already recorded", closed, 0)
    for name, (color, description) in LABELS.items():
        if api.ensure_label(name, color, description):
            say(f"created the label {name}")
    issue = api.create_issue(
        issue_title(findings), issue_body(findings, clear_runs_to_close, run_url), labels=(DRIFT_LABEL,)
    )
    say(f"opened #{issue.number}: {issue.html_url}")
    return IssueUpdate("opened", issue, 0)
