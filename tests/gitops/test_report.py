"""Rendering of the PR report: schema, user text kept inside code, determinism and GitHub's comment limit."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pydantic import ValidationError

from gitops_ml.gitops.report import (
    COMMIT_ALL,
    COMMIT_LOCK,
    CURVE_GRID,
    GITHUB_COMMENT_LIMIT,
    Report,
    code_block,
    code_span,
    comment_length,
    one_line,
    render,
    render_capped,
    sample_precision_recall,
    sample_roc,
    uncommitted_note,
)
from gitops_ml.model_metrics import higher_is_better, metric_names
from gitops_ml.tasks import Task

METRIC_NAMES = metric_names(Task.BINARY)
HIGHER_IS_BETTER = {name: higher_is_better(name, Task.BINARY) for name in METRIC_NAMES}

# CommonMark plus GitHub's tables and strikethrough: the parser the property tests read the comment back with.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def sample_report(**changes) -> Report:
    """A valid report with made-up numbers (shared with the artifact tests)."""
    curve = [round(i / (len(CURVE_GRID) - 1), 4) for i in range(len(CURVE_GRID))]
    data = {
        "base_ref": "main",
        "base_commit": "a" * 40,
        "head_commit": "b" * 40,
        "head_dirty": False,
        "params": [{"key": "train.seed", "base": "1", "head": "2"}],
        "data": {
            "changed": False,
            "base": {"md5": "c" * 32, "rows": 10, "positives": 1, "positive_rate": 0.1},
            "head": {"md5": "c" * 32, "rows": 10, "positives": 1, "positive_rate": 0.1},
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
                "higher_is_better": HIGHER_IS_BETTER[name],
                "low": 0.05,
                "high": 0.15,
                "verdict": "better" if HIGHER_IS_BETTER[name] else "worse",
            }
            for name in METRIC_NAMES
        ],
        "noise": {"paired": True, "confidence": 0.95, "n_resamples": 200},
        "charts": {
            "roc": {"base": curve, "head": curve},
            "precision_recall": {"base": curve[::-1], "head": curve[::-1]},
            "confusion_base": {"tn": 5, "fp": 1, "fn": 2, "tp": 3},
            "confusion_head": {"tn": 6, "fp": 0, "fn": 1, "tp": 4},
        },
        "gate": {
            "release": True,
            "reasons": ["PASS: primary metric improves"],
            "improvement": 0.1,
            "primary_metric": "average_precision",
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
        (("charts", "confusion_base", "tp"), "3", "valid integer"),
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
    assert caught.value.errors()[0]["loc"] == path


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


def test_curve_sampling_on_the_shared_grid():
    roc = pd.DataFrame({"fpr": [0.0, 0.0, 1.0], "tpr": [0.0, 1.0, 1.0]})
    assert sample_roc(roc) == [1.0] * len(CURVE_GRID)
    pr = pd.DataFrame({"recall": [1.0, 0.5, 0.0], "precision": [0.2, 0.6, 1.0]})
    sampled = sample_precision_recall(pr)
    assert sampled[0] == 1.0
    assert sampled[CURVE_GRID.index(0.5)] == 0.6
    assert sampled[-1] == 0.2


def test_opt_in_images_are_real_pngs_linked_from_the_comment(tmp_path):
    from gitops_ml.gitops.report_images import image_section, render_images

    images = render_images(sample_report(), tmp_path / "images")
    assert set(images) == {"roc", "precision_recall", "deltas"}
    for path in images.values():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5_000  # a drawn chart, not an empty canvas
    again = render_images(sample_report(), tmp_path / "again")
    assert images["roc"].read_bytes() == again["roc"].read_bytes()
    section = image_section({"roc": "https://asset.example/roc.png?cml=png", "deltas": "https://asset.example/d"})
    assert "![ROC curve](https://asset.example/roc.png?cml=png)" in section
    assert "![Metric change](https://asset.example/d)" in section


@pytest.mark.parametrize(
    "printed",
    [
        "",
        "http://asset.example/x.png",
        "https://asset.example/x.png) ![pwn](https://evil.example/y.png",
        "https://asset.example/x y.png",
        "javascript:alert(1)",
        "https:///nohost",
    ],
)
def test_only_a_plain_https_url_from_cml_goes_into_the_comment(printed):
    from gitops_ml.gitops.report_images import ImageUploadError, checked_url

    with pytest.raises(ImageUploadError, match="not an https URL"):
        checked_url(printed)


def test_the_url_cml_prints_last_is_taken():
    from gitops_ml.gitops.report_images import checked_url

    url = "https://asset.cml.dev/0a1b2c?cml=png&cache-bypass=5f1e"
    assert checked_url(f"some log line\n{url}\n") == url
