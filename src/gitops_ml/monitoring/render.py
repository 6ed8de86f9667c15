"""``reports/drift.md``: the drift report as Markdown, in the style of the pull-request report.

A summary line, one table of every feature's statistics (values above their threshold in bold), the features not
checked, Mermaid ``xychart-beta`` charts (PSI per feature against its threshold; the reference's and the window's
shares for the prediction and each drifted feature) and the unseen categories. Rendered from the validated
:class:`DriftReport` only, so an issue comment made from ``drift.json`` shows the same thing. Text that comes from
data (category values, the window's path, model versions) goes inside code spans or through :func:`chart_label`.
"""

from __future__ import annotations

from gitops_ml.gitops.markdown import code_span, one_line
from gitops_ml.monitoring.drift import PREDICTION_NAMES, DriftReport, FeatureDrift, Statistic
from gitops_ml.tasks import Task

NOT_COMPUTED = "\u2013"  # an en dash: the empty cell of a table
MAX_CHARTS = 8
"""Histogram charts at most (the prediction first, then the drifted features), to keep an issue comment readable."""
CHART_LABEL_LENGTH = 24
_CHART_SAFE = set(" _-.,:;()[]+/%'=!?")  # no quotes, backticks, pipes, <>, & or # (Mermaid reads entities)

STATISTIC_NAMES: dict[Statistic, str] = {
    "psi": "PSI",
    "wasserstein": "Wasserstein (std)",
    "ks": "KS",
    "jensen_shannon": "Jensen-Shannon",
    "missing_rate": "missing share change",
    "unseen_share": "unseen share",
}


def chart_label(text: str) -> str:
    """``text`` made safe for a quoted Mermaid label: letters, digits and plain punctuation only, shortened."""
    safe = "".join(c if c.isalnum() or c in _CHART_SAFE else "?" for c in one_line(text))
    return safe if len(safe) <= CHART_LABEL_LENGTH else safe[: CHART_LABEL_LENGTH - 1] + "…"


def _cell(text: str) -> str:
    """A code span that stays inside its table cell (GitHub splits cells at every unescaped ``|``)."""
    return code_span(text).replace("|", "\\|")


def _value(feature: FeatureDrift, statistic: Statistic, value: float | None, signed: bool = False) -> str:
    if value is None:
        return NOT_COMPUTED
    text = f"{value:+.4f}" if signed else f"{value:.4f}"
    return f"**{text}**" if any(c.statistic == statistic for c in feature.crossed) else text


def _verdict(feature: FeatureDrift) -> str:
    if not feature.drift:
        return "✅ stable"
    return "⚠️ drift (" + ", ".join(STATISTIC_NAMES[c.statistic] for c in feature.crossed) + ")"


def _row(feature: FeatureDrift, name: str) -> str:
    unseen = NOT_COMPUTED if feature.unseen_share is None else _value(feature, "unseen_share", feature.unseen_share)
    missing = (
        f"{feature.missing_reference:.3f} → {feature.missing_window:.3f}"
        if not any(c.statistic == "missing_rate" for c in feature.crossed)
        else f"**{feature.missing_reference:.3f} → {feature.missing_window:.3f}**"
    )
    return (
        f"| {name} | {feature.kind} | {_value(feature, 'psi', feature.psi)} | "
        f"{_value(feature, 'wasserstein', feature.wasserstein)} | {_value(feature, 'ks', feature.ks)} | "
        f"{_value(feature, 'jensen_shannon', feature.jensen_shannon)} | {missing} | {unseen} | {_verdict(feature)} |"
    )


def _thresholds_line(report: DriftReport) -> str:
    t = report.thresholds
    parts = [
        f"{STATISTIC_NAMES[name]} > {limit}"
        for name, limit in t.model_dump().items()
        if name in STATISTIC_NAMES and limit is not None
    ]
    off = [STATISTIC_NAMES[name] for name in STATISTIC_NAMES if getattr(t, name) is None]
    line = "Thresholds (`monitor.thresholds` in params.yaml): " + ", ".join(parts) + "."
    return line + (f" Off: {', '.join(off)}." if off else "")


def _table(report: DriftReport) -> list[str]:
    lines = [
        "### Statistics",
        "",
        "| feature | kind | PSI | Wasserstein (std) | KS | Jensen-Shannon | missing share (reference → window) "
        "| unseen share | verdict |",
        "|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    lines += [_row(f, _cell(f.name)) for f in report.features]
    if report.score is not None:
        lines.append(_row(report.score, f"*{report.score.name}*"))
    return [
        *lines,
        "",
        "Bold: above its threshold. " + NOT_COMPUTED + ": not computed for this kind (or no values on one side).",
    ]


def _axis(labels: list[str]) -> str:
    return "[" + ", ".join('"' + chart_label(label) + '"' for label in labels) + "]"


def _bar_chart(title: str, labels: list[str], values: list[float], threshold: float | None, y_label: str) -> list[str]:
    top = max([*values, threshold or 0.0, 1e-3]) * 1.1
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f"    x-axis {_axis(labels)}",
        f'    y-axis "{y_label}" 0 --> {top:.4f}',
        f"    bar [{', '.join(f'{v:.4f}' for v in values)}]",
    ]
    if threshold is not None:
        lines.append(f"    line [{', '.join(f'{threshold:.4f}' for _ in values)}]")
    return [*lines, "```"]


def _histogram_chart(feature: FeatureDrift) -> list[str]:
    h = feature.histogram
    top = max([*h.reference, *h.window, 1e-3]) * 1.1
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{chart_label(feature.name)}: share per {"bin" if feature.kind == "numeric" else "category"}"',
        f"    x-axis {_axis(h.labels)}",
        f'    y-axis "share" 0 --> {top:.4f}',
        f"    bar [{', '.join(f'{v:.4f}' for v in h.reference)}]",
        f"    line [{', '.join(f'{v:.4f}' for v in h.window)}]",
        "```",
    ]


def _charts(report: DriftReport) -> list[str]:
    features = [f for f in report.features if f.psi is not None]
    lines = ["### Charts", ""]
    if features:
        lines += _bar_chart(
            f"PSI per feature (line: threshold {report.thresholds.psi})"
            if report.thresholds.psi
            else "PSI per feature",
            [f.name for f in features],
            [f.psi or 0.0 for f in features],
            report.thresholds.psi,
            "PSI",
        )
    shown = ([report.score] if report.score is not None else []) + [f for f in report.features if f.drift]
    if shown:
        lines += ["", "Shares per bin or category: bars are the reference (training split), the line is the window."]
    for feature in shown[:MAX_CHARTS]:
        lines += ["", *_histogram_chart(feature)]
    if len(shown) > MAX_CHARTS:
        lines += ["", f"_{len(shown) - MAX_CHARTS} more drifted feature(s) not charted; see drift.json._"]
    return lines


def _unseen(report: DriftReport) -> list[str]:
    rows = []
    for feature in report.features:
        if feature.unseen_total:
            shown = ", ".join(f"{code_span(u.category)} ({u.count})" for u in feature.unseen)
            more = feature.unseen_total - sum(u.count for u in feature.unseen)
            rows.append(f"- {code_span(feature.name)}: {shown}" + (f" and {more} more value(s)" if more else ""))
    return ["### Unseen categories", "", *rows] if rows else []


def _window_line(report: DriftReport) -> str:
    w = report.window
    period = f", {w.first_timestamp} → {w.last_timestamp}" if w.first_timestamp else ""
    versions = ", ".join(code_span(v) for v in w.model_versions[:5]) or "not recorded"
    skipped = f", {w.skipped_lines} incomplete last line(s) skipped" if w.skipped_lines else ""
    predicted = {
        "window": "the window's own",
        "model": "the model's prediction of the window (the window has none)",
        "off": "not checked (monitor.score: false)",
    }[w.score_source]
    name = PREDICTION_NAMES[Task(report.task)]
    return (
        f"Window {code_span(w.source)}: {w.rows} records from {w.files} file(s){period}{skipped}; model version(s): "
        f"{versions}. {name[0].upper()}{name[1:]} ({report.task} model): {predicted}."
    )


def _not_checked(report: DriftReport) -> list[str]:
    if not report.not_checked:
        return []
    names = ", ".join(code_span(feature.name) for feature in report.not_checked)
    reasons = "; ".join(dict.fromkeys(one_line(feature.reason) for feature in report.not_checked))
    return [f"Not checked: {names} ({reasons}).", ""]


CHOSEN_BY = {
    "window": "the release the window's records name",
    "production": "the release deploy/overlays/production runs",
    "workspace": "the working tree",
    "explicit": "chosen with `--against`",
}
READ_FROM = {"workspace": "the working tree", "cache": "the DVC cache", "worktree": "a temporary worktree"}


def compared_with(report: DriftReport) -> str:
    """Which model the window was compared with, in a few words: ``model-v1 (commit 0123456789ab)``."""
    ref = report.reference
    commit = f"commit {code_span(ref.commit[:12])}" if ref.commit else "no commit (not a git repository)"
    if ref.model_version:
        return f"{code_span(ref.model_version)} ({commit})"
    if ref.chosen_by == "workspace" and ref.read_from == "workspace":
        return f"the working tree (HEAD: {commit})" if ref.commit else "the working tree"
    return commit


def reference_line(report: DriftReport) -> str:
    """The header's second line: which model's training data the window was compared with, and why."""
    ref = report.reference
    why = f" Why: {one_line(ref.note)}." if ref.note else ""
    return (
        f"**Compared with {compared_with(report)}**, {CHOSEN_BY[ref.chosen_by]}: {ref.rows} training rows "
        f"({code_span(ref.path)}, from {READ_FROM[ref.read_from]}).{why}"
    )


def summary_line(report: DriftReport) -> str:
    """One line: the verdict and what drifted."""
    if not report.drift:
        return f"**✅ no drift** · {len(report.features)} feature(s) within their thresholds"
    names = ", ".join(code_span(n) for n in report.drifted)
    return f"**⚠️ drift** · {len(report.drifted)} drifted: {names}"


def render(report: DriftReport) -> str:
    """Markdown of ``report``."""
    lines = [
        "## Drift check",
        "",
        summary_line(report),
        "",
        reference_line(report),
        "",
        _window_line(report),
        "",
        _thresholds_line(report),
        "",
        *_table(report),
        "",
        *_not_checked(report),
        *_charts(report),
        "",
    ]
    unseen = _unseen(report)
    if unseen:
        lines += [*unseen, ""]
    lines.append(
        f"<sub>Checked {report.checked_at} by `gitops-ml drift`; reproduce with `make drift CURRENT=...`.</sub>"
    )
    return "\n".join(lines) + "\n"
