"""Rendering of the PR report: schema, user text kept inside code, determinism and GitHub's comment limit."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pydantic import ValidationError

from gitops_ml.gitops.report import (
    COMMIT_ALL,
    COMMIT_LOCK,
    GITHUB_COMMENT_LIMIT,
    SCHEMA_VERSION,
    Report,
    code_block,
    code_span,
    comment_length,
    one_line,
    render,
    render_capped,
    uncommitted_note,
)
from gitops_ml.gitops.report_charts import CURVE_GRID
from gitops_ml.model_metrics import DEFAULT_PRIMARY_METRIC, higher_is_better, metric_names
from gitops_ml.tasks import Task

METRIC_NAMES = metric_names(Task.BINARY)

# CommonMark plus GitHub's tables and strikethrough: the parser the property tests read the comment back with.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def sample_charts(task: Task) -> dict:
    """Made-up charts of ``task`` as report.json holds them (binary's without ``task``, as before tasks)."""
    if task is Task.BINARY:
        curve = [round(i / (len(CURVE_GRID) - 1), 4) for i in range(len(CURVE_GRID))]
        return {
            "roc": {"base": curve, "head": curve},
            "precision_recall": {"base": curve[::-1], "head": curve[::-1]},
            "confusion_base": {"tn": 5, "fp": 1, "fn": 2, "tp": 3},
            "confusion_head": {"tn": 6, "fp": 0, "fn": 1, "tp": 4},
        }
    if task is Task.MULTICLASS:
        classes = ["sunny", "rain", "snow"]
        base = {"classes": classes, "f1": [0.8, 0.5, 0.7], "rows": [5, 4, 4],
                "matrix": [[4, 1, 0], [1, 2, 1], [0, 1, 3]]}  # fmt: skip
        head = {"classes": classes, "f1": [0.9, 0.6, 0.75], "rows": [5, 4, 4],
                "matrix": [[5, 0, 0], [1, 3, 0], [0, 1, 3]]}  # fmt: skip
        return {"task": "multiclass", "base": base, "head": head}
    return {
        "task": "regression",
        "predicted_actual": {"actual": [10.0, 20.0, 30.0], "base": [14.0, 20.5, 26.0], "head": [12.0, 20.0, 28.5]},
        "residuals": {"edges": [-2.0, -1.0, 0.0, 1.0, 2.0], "base": [0.2, 0.3, 0.3, 0.2], "head": [0.1, 0.4, 0.4, 0.1]},
    }


def sample_facts(task: Task, rows: int = 10, unlabelled: int | None = 0) -> dict:
    """Made-up data facts of ``task`` as report.json holds them."""
    facts = {"md5": "c" * 32, "rows": rows, "unlabelled_rows": unlabelled}
    if task is Task.BINARY:
        return facts | {"positives": 1, "positive_rate": 0.1}
    if task is Task.MULTICLASS:
        return facts | {"task": "multiclass", "class_rows": {"sunny": 5, "rain": 4, "snow": rows - 9}}
    return facts | {"task": "regression", "target_min": -3.5, "target_mean": 20.25, "target_max": 1234567.0}


def sample_report(task: Task = Task.BINARY, **changes) -> Report:
    """A valid report of ``task`` with made-up numbers (shared with the artifact and comment tests)."""
    data = {
        "base_ref": "main",
        "base_commit": "a" * 40,
        "head_commit": "b" * 40,
        "head_dirty": False,
        "params": [{"key": "train.seed", "base": "1", "head": "2"}],
        "data": {
            "changed": False,
            "base": sample_facts(task),
            "head": sample_facts(task),
            "columns_added": [],
            "columns_removed": [],
            "type_changes": [],
        },
        "code": [{"status": "modified", "path": "src/gitops_ml/pipeline/train.py"}],
        "metrics": [
            {
                "name": name,
                "base": 0.5,
                "head": 0.6,
                "delta": 0.1,
                "higher_is_better": higher_is_better(name, task),
                "low": 0.05,
                "high": 0.15,
                "verdict": "better" if higher_is_better(name, task) else "worse",
            }
            for name in metric_names(task)
        ],
        "noise": {"paired": True, "confidence": 0.95, "n_resamples": 200},
        "charts": sample_charts(task),
        "gate": {
            "release": True,
            "reasons": ["PASS: primary metric improves"],
            "improvement": 0.1,
            "primary_metric": DEFAULT_PRIMARY_METRIC[task],
        },
    }
    data.update(changes)
    return Report.model_validate(data)


def test_render_shows_every_section():
    text = render(sample_report())
    for heading in ("### Metrics", "### Merge verdict", "### Params", "### Data", "### Code under src/", "### Charts"):
        assert heading in text
    assert "| roc_auc | higher | 0.5000 | 0.6000 | +0.1000 | [+0.0500, +0.1500] | ✅ better |" in text
    assert "| log_loss | lower |" in text
    assert text.count("```mermaid") == 3
    assert "Merging would release this model" in text


def test_the_confusion_matrices_name_the_projects_classes():
    report = sample_report(
        charts={**sample_report().charts.model_dump(), "labels": {"positive": "churned", "negative": "stayed"}}
    )
    text = render(report)
    assert "positive: `churned`, negative: `stayed`" in text
    assert "| **negative** | 5 | 1 | 6 | 0 |" in text
    assert "| **positive** | 2 | 3 | 1 | 4 |" in text
    tables = [t for t in MARKDOWN.parse(text) if t.type == "table_open"]
    assert len(tables) == 2  # metrics and confusion: a label never splits or ends a table


def test_a_report_without_labels_still_validates():
    """report.json written before the labels were added (an older pull request's artifact) renders generically."""
    data = sample_report().model_dump(mode="json")
    del data["charts"]["labels"]
    assert "positive: `positive`, negative: `negative`" in render(Report.model_validate(data))


def test_committed_work_gets_no_note():
    report = sample_report()  # no stale_lock_stages key, as in CI's report.json and an older one
    assert report.stale_lock_stages == []
    assert uncommitted_note(report) is None
    assert "Not committed yet" not in render(report)
    assert "(with uncommitted changes)" not in render(report)


@pytest.mark.parametrize(
    ("dirty", "stale", "fix"),
    [(True, ["evaluate", "train"], COMMIT_ALL), (False, ["evaluate", "train"], COMMIT_LOCK), (True, [], COMMIT_ALL)],
)
def test_work_not_committed_yet_is_said_with_the_command_that_commits_it(dirty, stale, fix):
    report = sample_report(head_dirty=dirty, stale_lock_stages=stale)
    text = render(report)
    note = uncommitted_note(report)
    assert note is not None and f"Commit with `{fix}` before pushing" in note
    assert "⚠️ **Not committed yet**: " in text and f"Commit with `{fix}` before pushing" in text
    assert ("(with uncommitted changes)" in text) is dirty
    assert ("with uncommitted changes;" in note or "with uncommitted changes." in note) is dirty
    if stale:
        assert "committed `dvc.lock` does not record this pipeline run yet (stale stages: evaluate, train)" in note
        assert "(stale stages: `evaluate`, `train`)" in text  # names from dvc.lock: in code spans
        assert "refuses a `dvc.lock` that does not record the pipeline run" in text
    else:
        assert "stale stages" not in text and "refuses" not in note


def test_render_is_deterministic():
    assert render(sample_report()) == render(sample_report())
    report = sample_report()
    again = Report.model_validate(json.loads(json.dumps(report.model_dump(mode="json"))))
    assert render(again) == render(report)


def inline_tokens(markdown: str) -> list[tuple[str, str]]:
    """(type, content) of every inline token of ``markdown``, and every fenced block as ("fence", content)."""
    found = []
    for token in MARKDOWN.parse(markdown):
        if token.type == "fence":
            found.append(("fence", token.content))
        for child in token.children or []:
            found.append((child.type, child.content))
    return found


def text_outside_code(markdown: str) -> str:
    """All text GitHub would run its mention, reference, emoji and autolink filters on (not code, not HTML)."""
    return " ".join(content for kind, content in inline_tokens(markdown) if kind == "text")


EVIL = [
    "<img src=x onerror=alert(1)>",
    "| broken | table |",
    "@everyone please look",
    "[click](https://evil.example) www.evil.example",
    "fixes #1 and octo/template#2 :rocket:",
    "`code` and **bold**\nnew line\r\n- list item",
    "``` fence\n# heading",
    "trailing backslash \\",
    " `edge` ",
    "\u202eevil\u200b",
]


@pytest.mark.parametrize("evil", EVIL)
def test_text_from_the_pull_request_only_appears_inside_code(evil):
    report = sample_report(
        base_ref=evil,
        params=[{"key": evil, "base": evil, "head": None}],
        code=[{"status": "added", "path": evil}],
        data={
            **sample_report().data.model_dump(),
            "changed": True,
            "columns_added": [evil],
            "columns_removed": [evil],
            "type_changes": [{"column": evil, "base": evil, "head": evil}],
        },
        gate={**sample_report().gate.model_dump(), "reasons": [evil, evil + " again"]},
        charts={**sample_report().charts.model_dump(), "labels": {"positive": evil, "negative": evil + " too"}},
        stale_lock_stages=[evil, evil],
    )
    text = render(report)
    outside = text_outside_code(text)
    for marker in ("@everyone", "evil.example", "#1", ":rocket:", "<img", "onerror", "click"):
        assert marker not in outside
    assert "\u202e" not in text  # bidi overrides and zero-width characters are replaced, not shown
    codes = [content for kind, content in inline_tokens(text) if kind in ("code_inline", "fence")]
    assert any(one_line(evil).strip(" ") in code for code in codes)
    html = [content for kind, content in inline_tokens(text) if kind.startswith("html")]
    assert set(html) <= {"<sub>", "</sub>"}  # the fixed footer only
    assert not [t for t in MARKDOWN.parse(text) if t.type == "html_block"]


# (markdown with {} where the span goes, the text around it once the markup is parsed away)
# any text, and text made of the characters that matter to Markdown fences and GitHub's filters
TEXTS = st.one_of(st.text(), st.text(alphabet="`~ a@#:\\\n"))
SPAN_PLACES = [
    ("a {} b", "a {} b"),
    ("- {}: x", "{}: x"),
    ("## Model report: {} → this change", "Model report: {} → this change"),
    ("- {}: {} → *(absent)*", "{}: {} → (absent)"),
]


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_a_code_span_holds_any_text_literally_on_one_line(text):
    span = code_span(text)
    assert "\n" not in span
    for markdown, plain in SPAN_PLACES:
        spans = markdown.count("{}")
        tokens = inline_tokens(markdown.format(*[span] * spans))
        codes = [content for kind, content in tokens if kind == "code_inline"]
        outside = "".join(content for kind, content in tokens if kind == "text")
        if one_line(text):
            assert codes == [one_line(text)] * spans, span
            assert outside == plain.replace("{}", ""), span
        else:
            assert codes == []
            assert outside == plain.replace("{}", "(empty)")


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, max_size=5))
def test_a_code_block_holds_any_lines_literally(lines):
    markdown = "\n".join(["before", "", *code_block(lines), "", "after"])
    tokens = MARKDOWN.parse(markdown)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1
    assert fences[0].content == "".join(one_line(line) + "\n" for line in lines)
    assert text_outside_code(markdown) == "before after"


def test_one_line_replaces_controls_and_keeps_the_rest():
    assert one_line("train.seed") == "train.seed"
    assert one_line("a\nb\tc\x00d\u2028e") == "a\ufffdb\ufffdc\ufffdd\ufffde"
    assert code_span("train.seed") == "`train.seed`"
    assert code_span("a`b``c") == "```a`b``c```"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("") == "*(empty)*"


def test_comment_length_counts_utf16_units():
    assert comment_length("abc") == 3
    assert comment_length("🚀") == 2


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("metrics", 0, "base"), math.nan, "finite number"),
        (("metrics", 0, "delta"), math.inf, "finite number"),
        (("metrics", 0, "head"), "0.6", "valid number"),
        (("charts", "confusion_head", "tp"), "3", "valid integer"),
        (("noise", "paired"), "yes", "valid boolean"),
    ],
)
def test_numbers_must_be_finite_json_numbers(path, value, message):
    data = sample_report().model_dump(mode="json")
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError, match=message) as caught:
        Report.model_validate(data)
    loc = caught.value.errors()[0]["loc"]
    assert tuple(part for part in loc if part not in Task.__members__.values()) == path  # less the charts' task tag


def test_long_reports_are_shortened_under_the_github_limit():
    many = [{"key": f"p{i:05d}." + "x" * 150, "base": "1", "head": "2"} for i in range(2000)]
    code = [{"status": "added", "path": f"src/pkg/file_{i:05d}.py"} for i in range(3000)]
    report = sample_report(params=many, code=code)
    assert len(render(report)) > GITHUB_COMMENT_LIMIT
    text = render_capped(report)
    assert comment_length(text) < GITHUB_COMMENT_LIMIT
    assert "more params not shown to fit GitHub's comment limit" in text
    assert "### Metrics" in text


def test_the_largest_report_the_schema_allows_still_fits():
    """Every text at its 2,000-character maximum, in emoji (two UTF-16 units each) and backticks."""
    huge = ("🚀`" * 667)[:2000]
    report = sample_report(
        base_ref=huge,
        params=[{"key": huge, "base": huge, "head": huge}] * 300,
        code=[{"status": "added", "path": huge}] * 300,
        data={
            **sample_report().data.model_dump(),
            "changed": True,
            "columns_added": [huge] * 300,
            "type_changes": [{"column": huge, "base": huge, "head": huge}] * 300,
        },
        gate={**sample_report().gate.model_dump(), "reasons": [huge] * 100},
        stale_lock_stages=[huge] * 1_000,
    )
    text = render_capped(report)
    assert comment_length(text) <= GITHUB_COMMENT_LIMIT - 2_000
    assert "### Metrics" in text
    assert "more reasons not shown" in text
    assert "@" not in text_outside_code(text)


def test_schema_rejects_bad_reports():
    with pytest.raises(ValidationError):
        sample_report(base_commit="not-a-sha")
    with pytest.raises(ValidationError):
        sample_report(extra_field=1)
    with pytest.raises(ValidationError):
        sample_report(gate={"release": "yes please", "reasons": [], "improvement": None, "primary_metric": "f1"})


# --- tasks ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", list(Task))
def test_a_report_of_each_task_round_trips_through_its_json(task: Task):
    report = sample_report(task)
    assert report.task is task and report.schema_version == SCHEMA_VERSION == 2
    again = Report.model_validate(json.loads(json.dumps(report.model_dump(mode="json"))))
    assert again == report
    assert render(again) == render(report)


def test_a_version_1_report_still_reads_as_binary():
    """report.json of a pull request made before tasks: no task tags, no unlabelled rows."""
    data = sample_report().model_dump(mode="json")
    data["schema_version"] = 1
    del data["charts"]["task"]
    for side in ("base", "head"):
        del data["data"][side]["task"], data["data"][side]["unlabelled_rows"]
    data["data"]["changed"] = True
    report = Report.model_validate(data)
    assert report.task is Task.BINARY and report.data.head.unlabelled_rows is None
    assert "| unlabelled rows | n/a | n/a |" in render(report)
    data["charts"] = sample_charts(Task.MULTICLASS)
    data["metrics"] = sample_report(Task.MULTICLASS).model_dump(mode="json")["metrics"]
    data["gate"]["primary_metric"] = "macro_f1"
    with pytest.raises(ValidationError, match="schema_version 1 report is of a binary model"):
        Report.model_validate(data)


def _tampered(task: Task, path: tuple, value: object) -> dict:
    data = sample_report(task).model_dump(mode="json")
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("task", "path", "value", "message"),
    [
        (Task.MULTICLASS, ("charts", "head", "matrix"), [[5, 0], [1, 3]], "matrix must be 3 x 3"),
        (Task.MULTICLASS, ("charts", "head", "f1", 0), 1.5, "less than or equal to 1"),
        (Task.MULTICLASS, ("charts", "head", "rows", 0), 6, "rows must be the matrix's row sums"),
        (Task.MULTICLASS, ("charts", "base", "classes", 1), "sunny", "listed twice"),
        (Task.MULTICLASS, ("charts", "head", "f1"), [0.5], "one value per class"),
        (Task.MULTICLASS, ("data", "head", "class_rows", "rain"), -1, "greater than or equal to 0"),
        (Task.REGRESSION, ("charts", "residuals", "head"), [0.5, 0.5], "one value per bin"),
        (Task.REGRESSION, ("charts", "residuals", "edges", 1), -3.0, "edges must increase"),
        (Task.REGRESSION, ("charts", "predicted_actual", "base"), [1.0], "one value per bin"),
        (Task.REGRESSION, ("data", "head", "target_max"), math.inf, "finite number"),
        (Task.REGRESSION, ("charts", "task"), "ranking", "does not match any of the expected tags"),
        (Task.REGRESSION, ("metrics", 0, "name"), "roc_auc", "not a metric of task regression"),
        (Task.MULTICLASS, ("gate", "primary_metric"), "r2", "not a metric of task multiclass"),
    ],
)
def test_a_tampered_report_of_each_task_is_refused(task: Task, path: tuple, value: object, message: str):
    with pytest.raises(ValidationError, match=message):
        Report.model_validate(_tampered(task, path, value))


def test_the_matrix_is_kept_only_for_a_few_classes():
    classes = [f"c{i}" for i in range(21)]
    head = {"classes": classes, "f1": [0.5] * 21, "rows": [1] * 21,
            "matrix": [[1 if i == j else 0 for j in range(21)] for i in range(21)]}  # fmt: skip
    with pytest.raises(ValidationError, match="kept only up to 20 classes"):
        sample_report(Task.MULTICLASS, charts={"task": "multiclass", "base": None, "head": head})
    report = sample_report(
        Task.MULTICLASS, charts={"task": "multiclass", "base": None, "head": head | {"matrix": None}}
    )
    assert "Confusion matrix, head: left out above 20 classes" in render(report)


def _tables(text: str) -> int:
    return sum(1 for t in MARKDOWN.parse(text) if t.type == "table_open")


def test_a_multiclass_report_numbers_the_classes_and_shows_f1_and_both_matrices():
    text = render(sample_report(Task.MULTICLASS))
    assert "Classes: 1 `sunny` · 2 `rain` · 3 `snow`" in text
    assert '    x-axis "class" ["1", "2", "3"]' in text
    assert "    bar [0.9000, 0.6000, 0.7500]" in text
    assert "    line [0.8000, 0.5000, 0.7000]" in text
    assert "| 2 | 0.5000 | 0.6000 | +0.1000 | 4 |" in text
    assert text.index("Confusion matrix, base") < text.index("Confusion matrix, head")
    assert "| **2** | 1 | 3 | 0 |" in text  # the head's row of class 2
    assert _tables(text) == 4  # metrics, F1, two matrices
    assert "| metric | better |" in text and "| roc_auc_ovr | higher |" in text and "| log_loss | lower |" in text


def test_a_regression_report_draws_predicted_against_actual_and_the_residuals():
    text = render(sample_report(Task.REGRESSION))
    assert '    x-axis "actual value (bin mean)" ["10", "20", "30"]' in text
    assert text.count("```mermaid") == 3  # predicted vs actual, residuals, metric deltas
    lines = text.splitlines()
    chart = lines.index('    title "Predicted vs actual"')
    assert lines[chart + 3 : chart + 6] == [
        "    line [10, 20, 30]",
        "    line [14, 20.5, 26]",
        "    line [12, 20, 28.5]",
    ]
    assert '["-1.5", "-0.5", "0.5", "1.5"]' in text  # residual bin centres
    assert "    bar [0.1, 0.4, 0.4, 0.1]" in text
    assert "| rmse | lower |" in text and "| r2 | higher |" in text


@pytest.mark.parametrize("task", list(Task))
def test_a_base_of_another_task_leaves_the_base_out_of_the_charts(task: Task):
    charts = sample_charts(task)
    if task is Task.BINARY:
        charts |= {"confusion_base": None, "roc": {**charts["roc"], "base": None}}
        charts["precision_recall"] = {**charts["precision_recall"], "base": None}
    elif task is Task.MULTICLASS:
        charts["base"] = None
    else:
        charts["predicted_actual"]["base"] = charts["residuals"]["base"] = None
    other = next(t for t in Task if t is not task)
    data = {**sample_report(task).data.model_dump(mode="json"), "changed": True, "base": sample_facts(other)}
    text = render(sample_report(task, charts=charts, data=data))
    mermaid = [t.content for t in MARKDOWN.parse(text) if t.type == "fence" and t.info == "mermaid"][:-1]
    series = [(chart.count("    line ["), chart.count("    bar [")) for chart in mermaid]  # the deltas left out
    assert series == {Task.BINARY: [(1, 0), (1, 0)], Task.MULTICLASS: [(0, 1)], Task.REGRESSION: [(2, 0), (0, 1)]}[task]
    assert "base: negative" not in text and "Confusion matrix, base" not in text
    assert "| rows | 10 | 10 |" in text
    assert "| md5 |" in text and " n/a |" in text  # the other task's facts are n/a on one side


def test_the_data_table_shows_each_tasks_facts_and_the_unlabelled_rows():
    def data(task: Task, base_unlabelled: int | None) -> dict:
        return {**sample_report(task).data.model_dump(mode="json"), "changed": True,
                "base": sample_facts(task, 10, base_unlabelled), "head": sample_facts(task, 12, 7)}  # fmt: skip

    binary = render(sample_report(Task.BINARY, data=data(Task.BINARY, None)))
    assert "| unlabelled rows | n/a | 7 |" in binary and "| positive rate | 0.1000 | 0.1000 |" in binary
    regression = render(sample_report(Task.REGRESSION, data=data(Task.REGRESSION, 0)))
    assert "| unlabelled rows | 0 | 7 |" in regression
    assert "| target min | -3.5 | -3.5 |" in regression and "| target max | 1235000 | 1235000 |" in regression
    multiclass = render(sample_report(Task.MULTICLASS, data=data(Task.MULTICLASS, 0)))
    assert "Rows per class, base → head:" in multiclass
    assert "- 3 `snow`: 1 → 3" in multiclass  # numbered as the charts number the classes
    unchanged = render(sample_report(Task.REGRESSION, data={**data(Task.REGRESSION, 7), "changed": False}))
    assert "Unchanged (md5 `" + "c" * 32 + "`, 12 rows, 7 unlabelled rows left out)." in unchanged


@pytest.mark.parametrize("evil", EVIL)
def test_class_names_from_the_pull_request_only_appear_inside_code(evil):
    charts = sample_charts(Task.MULTICLASS)
    charts["head"]["classes"] = [evil, evil + " 2", "ok"]
    data = {**sample_report(Task.MULTICLASS).data.model_dump(mode="json"), "changed": True}
    data["head"] = {**data["head"], "class_rows": {evil: 5, evil + " 2": 4, "ok": 1}}
    text = render(sample_report(Task.MULTICLASS, charts=charts, data=data))
    outside = text_outside_code(text)
    for marker in ("@everyone", "evil.example", "#1", ":rocket:", "<img", "onerror", "click"):
        assert marker not in outside
    mermaid = [t.content for t in MARKDOWN.parse(text) if t.type == "fence" and t.info == "mermaid"]
    assert mermaid and not any(one_line(evil).strip() in chart for chart in mermaid)
    assert _tables(text) == 5  # metrics, data, F1, two matrices: a name never splits or ends a table
    assert not [t for t in MARKDOWN.parse(text) if t.type == "html_block"]


def test_a_thousand_long_class_names_still_fit_in_a_comment():
    names = [f"{i:04d}" + "🚀`" * 600 for i in range(1000)]
    head = {"classes": names, "f1": [0.5] * 1000, "rows": [1] * 1000, "matrix": None}
    data = {**sample_report(Task.MULTICLASS).data.model_dump(mode="json"), "changed": True}
    data["head"] = {**data["head"], "class_rows": dict.fromkeys(names, 3)}
    report = sample_report(Task.MULTICLASS, charts={"task": "multiclass", "base": None, "head": head}, data=data)
    assert len(render(report)) > GITHUB_COMMENT_LIMIT
    text = render_capped(report)
    assert comment_length(text) <= GITHUB_COMMENT_LIMIT - 2_000
    assert "### Metrics" in text and "more classes not shown" in text
