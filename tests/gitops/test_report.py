"""Rendering of the PR report: schema, escaping of user text, determinism and GitHub's comment limit."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import ValidationError

from gitops_ml.gitops.report import (
    CURVE_GRID,
    GITHUB_COMMENT_LIMIT,
    Report,
    escape_md,
    render,
    render_capped,
    sample_precision_recall,
    sample_roc,
)
from gitops_ml.scoring import HIGHER_IS_BETTER, METRIC_NAMES


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


def test_render_is_deterministic():
    assert render(sample_report()) == render(sample_report())
    report = sample_report()
    again = Report.model_validate(json.loads(json.dumps(report.model_dump(mode="json"))))
    assert render(again) == render(report)


@pytest.mark.parametrize(
    "evil",
    [
        "<img src=x onerror=alert(1)>",
        "| broken | table |",
        "@everyone please look",
        "[click](https://evil.example)",
        "`code` and **bold**\nnew line",
    ],
)
def test_user_text_is_escaped(evil):
    text = render(sample_report(params=[{"key": evil, "base": evil, "head": None}]))
    params_row = next(line for line in text.splitlines() if line.startswith("| ") and "absent" in line)
    assert "<img" not in text
    assert "@everyone" not in text
    assert "](" not in params_row.replace("\\](", "")
    assert params_row.count(" | ") == 2  # still exactly three cells
    assert "\n" not in escape_md(evil)


def test_escape_md_leaves_plain_words_alone():
    assert escape_md("train.seed") == "train.seed"
    assert escape_md("a_b") == "a\\_b"


def test_long_reports_are_shortened_under_the_github_limit():
    many = [{"key": f"p{i:05d}." + "x" * 150, "base": "1", "head": "2"} for i in range(2000)]
    code = [{"status": "added", "path": f"src/pkg/file_{i:05d}.py"} for i in range(3000)]
    report = sample_report(params=many, code=code)
    assert len(render(report)) > GITHUB_COMMENT_LIMIT
    text = render_capped(report)
    assert len(text) < GITHUB_COMMENT_LIMIT
    assert "more params not shown to fit GitHub's comment limit" in text
    assert "### Metrics" in text


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
    section = image_section(images, tmp_path)
    assert "![ROC curve](images/roc.png)" in section
    assert "![Metric change](images/deltas.png)" in section
