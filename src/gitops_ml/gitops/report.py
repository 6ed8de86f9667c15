"""The pull-request report: one JSON document (the data) and the Markdown comment rendered from it.

:class:`Report` is the schema of ``report.json``. The comment workflow re-renders the Markdown from the
validated JSON with this module (never trusting Markdown a pull request produced), so everything shown is a
finite number, a fixed label, or text from the pull request set inside a code span (:func:`code_span`) or a
code block (:func:`code_block`). Inside code GitHub turns nothing into a mention, an issue reference, an emoji,
a link or HTML, which escaping with entities or backslashes does not guarantee. Charts are Mermaid
``xychart-beta`` diagrams and tables, which GitHub renders in comments without any image host. Rendering is
deterministic and the comment is kept under GitHub's 65,536-character limit by shortening the longest lists
with a visible note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gitops_ml.config import parse_params
from gitops_ml.gitops.base_side import Outputs
from gitops_ml.gitops.compare import (
    Verdict,
    base_contract_changes,
    compare_metrics,
    data_diff,
    improvement_lower_bound,
    merge_verdict,
    params_diff,
)
from gitops_ml.gitops.markdown import code_block, code_span
from gitops_ml.gitops.markdown import one_line as one_line  # re-exported: the tests and older callers import it here
from gitops_ml.model_metrics import MetricName, all_metric_names

GITHUB_COMMENT_LIMIT = 65_536
COMMENT_BUDGET = GITHUB_COMMENT_LIMIT - 2_000  # room for the comment's marker, image links and notes
CURVE_GRID = tuple(round(x, 2) for x in np.linspace(0, 1, 21))
SCHEMA_VERSION: Final = 1
COMMIT_ALL: Final = "git commit -a"  # what commits the head side as the report saw it (tracked files only)
COMMIT_LOCK: Final = "git commit dvc.lock"

Text = Annotated[str, Field(max_length=2_000)]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
Unit = Annotated[float, Field(ge=0, le=1)]


class _Model(BaseModel):
    # strict: a number must be a JSON number (not "0.5", not true) and finite (no NaN, no Infinity)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ParamChange(_Model):
    key: Text
    base: Text | None  # JSON text of the value; None when the key is absent on that side
    head: Text | None


class DataFacts(_Model):
    md5: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    rows: int = Field(ge=0)
    positives: int = Field(ge=0)
    positive_rate: Unit


class TypeChange(_Model):
    column: Text
    base: Text
    head: Text


class DataDiff(_Model):
    changed: bool
    base: DataFacts | None
    head: DataFacts
    columns_added: list[Text] = Field(max_length=10_000)
    columns_removed: list[Text] = Field(max_length=10_000)
    type_changes: list[TypeChange] = Field(max_length=10_000)


class CodeChange(_Model):
    status: Literal["added", "modified", "deleted"]
    path: Text


class MetricRow(_Model):
    name: MetricName
    base: float | None
    head: float | None
    delta: float | None
    higher_is_better: bool
    low: float | None  # paired bootstrap interval of the delta (None when unpaired)
    high: float | None
    verdict: Verdict


class Confusion(_Model):
    tn: int = Field(ge=0)
    fp: int = Field(ge=0)
    fn: int = Field(ge=0)
    tp: int = Field(ge=0)


class CurvePair(_Model):
    """A curve of each side sampled at :data:`CURVE_GRID` (x), so both lines share one axis."""

    base: list[Unit] = Field(min_length=len(CURVE_GRID), max_length=len(CURVE_GRID))
    head: list[Unit] = Field(min_length=len(CURVE_GRID), max_length=len(CURVE_GRID))


class ClassLabels(_Model):
    """How the head's params.yaml names the classes (``project.positive_label`` / ``negative_label``)."""

    positive: Text = "positive"
    negative: Text = "negative"


class Charts(_Model):
    roc: CurvePair
    precision_recall: CurvePair
    confusion_base: Confusion
    confusion_head: Confusion
    labels: ClassLabels = ClassLabels()  # absent in a report.json written before the labels were added


class Gate(_Model):
    release: bool
    reasons: list[Text] = Field(max_length=100)
    improvement: float | None
    primary_metric: MetricName


class Noise(_Model):
    paired: bool
    confidence: float = Field(gt=0, lt=1)
    n_resamples: int = Field(ge=1)


class Report(_Model):
    """The body of ``report.json``: everything the comment shows, as data."""

    schema_version: Literal[1] = SCHEMA_VERSION
    base_ref: Text
    base_commit: Sha
    head_commit: Sha
    head_dirty: bool
    # Stages whose recipe the working tree's dvc.lock records and HEAD's does not: dvc.lock is not committed yet.
    # Only a local `make report` writes it (CI's refuses such a lock), and only when not empty: a report.json
    # without it is what the comment workflow of an older default branch accepts.
    stale_lock_stages: list[Text] = Field(default=[], max_length=1_000)
    params: list[ParamChange] = Field(max_length=10_000)
    data: DataDiff
    code: list[CodeChange] = Field(max_length=10_000)
    metrics: list[MetricRow] = Field(min_length=1, max_length=len(all_metric_names()))
    noise: Noise
    charts: Charts
    gate: Gate


# --- building --------------------------------------------------------------------------------------------


def build_report(
    base_ref: str,
    base_commit: str,
    head_commit: str,
    head_dirty: bool,
    base: Outputs,
    head: Outputs,
    code: list[dict[str, str]],
    stale_lock_stages: Sequence[str] = (),
) -> Report:
    """Compare the two sides' outputs (params, data, metrics with noise, gate) into a :class:`Report`.

    ``stale_lock_stages`` names the stages HEAD's ``dvc.lock`` does not record yet (a local report of work in
    progress); the report says so, with the command that commits it.
    """
    params = parse_params(head.params, source="params.yaml (head)")
    rows, paired = compare_metrics(base.side, head.side, params.evaluate.bootstrap)
    gate_rules = params.gate
    decision = merge_verdict(
        head.side.metrics,
        base.side.metrics,
        gate_rules,
        improvement_lower_bound(rows, gate_rules.primary_metric),
        base_contract_changes(base.params, params.schema),
        params.task,
    )
    boot = params.evaluate.bootstrap
    return Report(
        base_ref=base_ref,
        base_commit=base_commit,
        head_commit=head_commit,
        head_dirty=head_dirty,
        stale_lock_stages=list(stale_lock_stages),
        params=[ParamChange.model_validate(c) for c in params_diff(base.params, head.params)],
        data=DataDiff.model_validate(data_diff(base.data_summary, head.data_summary)),
        code=[CodeChange.model_validate(c) for c in code],
        metrics=[MetricRow.model_validate(r) for r in rows],
        noise=Noise(paired=paired, confidence=boot.confidence, n_resamples=boot.n_resamples),
        charts=Charts(
            roc=CurvePair(base=sample_roc(base.roc), head=sample_roc(head.roc)),
            precision_recall=CurvePair(
                base=sample_precision_recall(base.precision_recall),
                head=sample_precision_recall(head.precision_recall),
            ),
            confusion_base=Confusion(**base.confusion),
            confusion_head=Confusion(**head.confusion),
            labels=ClassLabels(positive=params.project.positive_label, negative=params.project.negative_label),
        ),
        gate=Gate(
            release=decision.release,
            reasons=decision.reasons,
            improvement=decision.improvement,
            primary_metric=gate_rules.primary_metric,
        ),
    )


def sample_roc(roc: pd.DataFrame) -> list[float]:
    """True positive rate at each false positive rate of :data:`CURVE_GRID` (linear interpolation)."""
    table = roc.sort_values(["fpr", "tpr"])
    values = np.interp(CURVE_GRID, table["fpr"].to_numpy(), table["tpr"].to_numpy())
    return [round(float(np.clip(v, 0, 1)), 4) for v in values]


def sample_precision_recall(pr: pd.DataFrame) -> list[float]:
    """Interpolated precision (best precision at recall >= r) at each recall of :data:`CURVE_GRID`."""
    recall, precision = pr["recall"].to_numpy(), pr["precision"].to_numpy()
    out = []
    for r in CURVE_GRID:
        reachable = precision[recall >= r - 1e-12]
        out.append(round(float(np.clip(reachable.max(), 0, 1)), 4) if len(reachable) else 0.0)
    return out


# --- rendering -------------------------------------------------------------------------------------------


def comment_length(text: str) -> int:
    """Length as GitHub counts against its comment limit, taken as UTF-16 code units (never fewer than characters)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


_VERDICT_MARK = {"better": "✅ better", "worse": "❌ worse", "unchanged": "🟰 within noise", "n/a": "n/a"}


def _cut(items: list[str], limit: int | None, what: str) -> tuple[list[str], list[str]]:
    """The first ``limit`` items and, when some were left out, the note that says so (to place after them)."""
    if limit is None or len(items) <= limit:
        return items, []
    return items[:limit], [
        "",
        f"_… {len(items) - limit} more {what} not shown to fit GitHub's comment limit; "
        "see report.json in the workflow artifact._",
    ]


def _shorten(lines: list[str], limit: int | None, what: str) -> list[str]:
    kept, note = _cut(lines, limit, what)
    return [*kept, *note]


def _value(text: str | None) -> str:
    return "*(absent)*" if text is None else code_span(text)


def _params_section(report: Report, limit: int | None) -> list[str]:
    if not report.params:
        return ["### Params", "", "No parameter changed."]
    rows = [f"- {code_span(c.key)}: {_value(c.base)} → {_value(c.head)}" for c in report.params]
    return ["### Params", "", "Changed keys, base → head (values as JSON):", "", *_shorten(rows, limit, "params")]


def _data_section(report: Report, limit: int | None) -> list[str]:
    data = report.data
    if not data.changed:
        return ["### Data", "", f"Unchanged (md5 `{data.head.md5}`, {data.head.rows} rows)."]
    base = data.base
    lines = ["### Data", "", "| | base | head |", "|---|---|---|"]
    for label, attr, fmt in (
        ("md5", "md5", lambda v: f"`{v}`"),
        ("rows", "rows", str),
        ("positives", "positives", str),
        ("positive rate", "positive_rate", lambda v: f"{v:.4f}"),
    ):
        old = fmt(getattr(base, attr)) if base else "n/a"
        lines.append(f"| {label} | {old} | {fmt(getattr(data.head, attr))} |")
    notes = [f"- added column {code_span(c)}" for c in data.columns_added]
    notes += [f"- removed column {code_span(c)}" for c in data.columns_removed]
    notes += [f"- {code_span(t.column)}: {code_span(t.base)} → {code_span(t.head)}" for t in data.type_changes]
    if not notes:
        return [*lines, "", "Schema: unchanged."]
    return [*lines, "", "Schema:", "", *_shorten(notes, limit, "schema changes")]


def _code_section(report: Report, limit: int | None) -> list[str]:
    if not report.code:
        return ["### Code under src/", "", "No change."]
    rows = [f"- {c.status}: {code_span(c.path)}" for c in report.code]
    return ["### Code under src/", "", *_shorten(rows, limit, "files")]


def _metrics_section(report: Report) -> list[str]:
    noise = report.noise
    how = (
        f"paired bootstrap of the difference on the same test rows, resampled {noise.n_resamples} times"
        if noise.paired
        else "the test sets differ, so each side's own bootstrap interval is compared (overlap = within noise)"
    )
    lines = [
        "### Metrics",
        "",
        f"Verdicts use a {noise.confidence:.0%} interval: {how}.",
        "",
        "| metric | better | base | head | delta | delta interval | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in report.metrics:
        interval = f"[{_num(row.low, True)}, {_num(row.high, True)}]" if row.low is not None else "n/a"
        lines.append(
            f"| {row.name} | {'higher' if row.higher_is_better else 'lower'} | {_num(row.base)} | "
            f"{_num(row.head)} | {_num(row.delta, True)} | {interval} | {_VERDICT_MARK[row.verdict]} |"
        )
    return lines


def _xychart(title: str, x_label: str, y_label: str, pair: CurvePair) -> list[str]:
    grid = ", ".join(f'"{x:.2f}"' for x in CURVE_GRID)
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f'    x-axis "{x_label}" [{grid}]',
        f'    y-axis "{y_label}" 0 --> 1',
        f"    line [{', '.join(f'{v:.4f}' for v in pair.base)}]",
        f"    line [{', '.join(f'{v:.4f}' for v in pair.head)}]",
        "```",
    ]


def _charts_section(report: Report) -> list[str]:
    charts = report.charts
    deltas = [(row.name, row.delta) for row in report.metrics if row.delta is not None]
    b, h = charts.confusion_base, charts.confusion_head
    lines = [
        "### Charts",
        "",
        "First line: base, second line: head.",
        "",
        *_xychart("ROC curve", "false positive rate", "true positive rate", charts.roc),
        "",
        *_xychart("Precision-recall curve", "recall", "precision", charts.precision_recall),
        "",
        # The labels come from the pull request's params.yaml: in code spans, and outside the table (a `|` in a
        # label would split a cell).
        f"Confusion matrices (rows: actual, columns: predicted; positive: {code_span(charts.labels.positive)}, "
        f"negative: {code_span(charts.labels.negative)}):",
        "",
        "| | base: negative | base: positive | head: negative | head: positive |",
        "|---|---:|---:|---:|---:|",
        f"| **negative** | {b.tn} | {b.fp} | {h.tn} | {h.fp} |",
        f"| **positive** | {b.fn} | {b.tp} | {h.fn} | {h.tp} |",
    ]
    if deltas:
        lines += [
            "",
            "```mermaid",
            "xychart-beta",
            '    title "Metric change (head - base)"',
            f"    x-axis [{', '.join(name for name, _ in deltas)}]",
            '    y-axis "delta"',
            f"    bar [{', '.join(f'{d:.4f}' for _, d in deltas)}]",
            "```",
        ]
    return lines


def _gate_section(report: Report, limit: int | None) -> list[str]:
    gate = report.gate
    head = "**Merging would release this model**" if gate.release else "**Merging would not release this model**"
    reasons, note = _cut(list(gate.reasons), limit, "reasons")
    return [
        "### Merge verdict",
        "",
        f"{head} (release gate, head as candidate against base as champion; primary metric "
        f"{gate.primary_metric}). The merge workflow re-checks against the released model.",
        *(["", *code_block(reasons)] if reasons else []),
        *note,
    ]


def _not_committed(report: Report, names: str) -> str | None:
    """What of the head side is not committed yet and the command that commits it (``names``: the stale stages as
    they are to be shown); None when the head is committed as it is."""
    if not (report.head_dirty or report.stale_lock_stages):
        return None
    what = ["the head side is the working tree, with uncommitted changes"] if report.head_dirty else []
    if report.stale_lock_stages:
        what.append(f"the committed `dvc.lock` does not record this pipeline run yet (stale stages: {names})")
    fix = COMMIT_ALL if report.head_dirty else COMMIT_LOCK
    why = "CI reports what is committed"
    if report.stale_lock_stages:
        why += " and refuses a `dvc.lock` that does not record the pipeline run"
    return f"{'; '.join(what)}. Commit with `{fix}` before pushing: {why}."


def uncommitted_note(report: Report) -> str | None:
    """For the terminal: what of the head side is not committed yet and the command that commits it, or None."""
    return _not_committed(report, ", ".join(report.stale_lock_stages))


def _uncommitted_section(report: Report, limit: int | None) -> list[str]:
    stages = report.stale_lock_stages
    shown = stages if limit is None else stages[:limit]
    more = f" and {len(stages) - len(shown)} more" if len(shown) < len(stages) else ""
    note = _not_committed(report, (", ".join(code_span(name) for name in shown) or "…") + more)
    return [f"⚠️ **Not committed yet**: {note}", ""] if note else []  # stage names (from dvc.lock) in code spans


def _summary_line(report: Report) -> str:
    counts = {v: sum(1 for r in report.metrics if r.verdict == v) for v in ("better", "worse", "unchanged")}
    verdict = "✅ would release" if report.gate.release else "⛔ would not release"
    return (
        f"**{verdict}** · {counts['better']} better, {counts['worse']} worse, {counts['unchanged']} within noise · "
        f"{len(report.params)} param change(s) · data {'changed' if report.data.changed else 'unchanged'} · "
        f"{len(report.code)} file(s) changed under src/"
    )


def render(report: Report, limit: int | None = None, charts: bool = True) -> str:
    """Markdown of ``report``; ``limit`` caps each list section (None: everything)."""
    dirty = " (with uncommitted changes)" if report.head_dirty else ""
    lines = [
        f"## Model report: {code_span(report.base_ref)} → this change",
        "",
        f"Base `{report.base_commit[:12]}`, head `{report.head_commit[:12]}`{dirty}.",
        "",
        *_uncommitted_section(report, limit),
        _summary_line(report),
        "",
        *_metrics_section(report),
        "",
        *_gate_section(report, limit),
        "",
        *_params_section(report, limit),
        "",
        *_data_section(report, limit),
        "",
        *_code_section(report, limit),
        "",
    ]
    if charts:
        lines += [*_charts_section(report), ""]
    else:
        lines += ["_Charts left out to fit GitHub's comment limit; see the workflow artifact._", ""]
    lines.append("<sub>Generated by `gitops-ml report`; reproduce with `make report BASE=<ref>`.</sub>")
    return "\n".join(lines) + "\n"


def render_capped(report: Report, budget: int = COMMENT_BUDGET) -> str:
    """:func:`render`, shortening list sections (then dropping charts) until it fits in ``budget`` (UTF-16 units).

    With every list cut to nothing, the schema's bounds (2,000 characters per text) keep the comment a few
    kilobytes long, so the last fallback, a fixed text without any data, is there only for a tiny ``budget``.
    """
    ladder = ((None, True), (200, True), (50, True), (10, True), (10, False), (3, False), (0, False))
    for limit, charts in ladder:
        text = render(report, limit=limit, charts=charts)
        if comment_length(text) <= budget:
            return text
    return (
        f"## Model report\n\nHead `{report.head_commit[:12]}`: the report is too large for a comment; "
        "see report.json in the workflow artifact.\n"
    )
