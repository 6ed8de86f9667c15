"""drift.md: the verdict, one row per feature, Mermaid charts, and data-borne text that cannot break out."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from gitops_ml.monitoring.drift import NOT_CHECKED_REASON, DriftReport, NotChecked, PreparedReference
from gitops_ml.monitoring.render import MAX_CHARTS, chart_label, render
from gitops_ml.tasks import Task
from tests.monitoring.test_drift import check, reference, rows, task_check, task_references
from tests.support.task_models import task_rows

__all__ = ["reference", "task_references"]  # the module-scoped fixtures, shared with test_drift


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", text, flags=re.DOTALL)


def test_chart_labels_keep_plain_text_and_replace_the_rest() -> None:
    assert chart_label("[12.5, 40)") == "[12.5, 40)"
    assert chart_label('say "hi"\n`x`') == "say ?hi???x?"
    assert chart_label("Zürich") == "Zürich"
    assert len(chart_label("x" * 100)) == 24


def test_a_stable_window_renders_the_verdict_and_every_feature(reference: PreparedReference) -> None:
    text = render(check(reference, rows(1000, seed=2)))
    assert "**✅ no drift** · 4 feature(s) within their thresholds" in text
    table = [line for line in text.splitlines() if line.startswith("| `") or line.startswith("| *")]
    assert [line.split(" | ")[0] for line in table] == [
        "| `amount`",
        "| `count`",
        "| `channel`",
        "| `flag`",
        "| *predicted score*",
    ]
    assert all(line.endswith("✅ stable |") for line in table)
    assert "**" not in "".join(table)  # nothing above a threshold, nothing bold
    blocks = mermaid_blocks(text)
    assert len(blocks) == 2  # PSI per feature, then the score's shares
    assert 'x-axis ["amount", "count", "channel", "flag"]' in blocks[0]


def test_a_drifted_window_shows_what_crossed_and_charts_it(reference: PreparedReference) -> None:
    frame = rows(1000, seed=3)
    frame["amount"] *= 2
    frame.loc[:49, "channel"] = "kiosk"
    report = check(reference, frame)
    text = render(report)
    assert "**⚠️ drift** · 3 drifted: `amount`, `channel`, `predicted score`" in text
    amount_row = next(line for line in text.splitlines() if line.startswith("| `amount`"))
    assert re.search(r"\| \*\*\d\.\d{4}\*\* \|", amount_row)  # the PSI above its threshold is bold
    assert "⚠️ drift (PSI, Wasserstein (std), KS)" in amount_row
    assert "- `channel`: `kiosk` (50)" in text
    titles = [re.search(r'title "(.*)"', block).group(1) for block in mermaid_blocks(text)]  # type: ignore[union-attr]
    assert titles[1:] == ["predicted score: share per bin", "amount: share per bin", "channel: share per category"]


def test_text_from_the_data_stays_inside_code_and_cells(reference: PreparedReference) -> None:
    frame = rows(1000, seed=11)
    frame.loc[:9, "channel"] = "a|b ``` @someone <b>"
    report = check(reference, frame)
    text = render(report)
    unseen = next(line for line in text.splitlines() if line.startswith("- `channel`"))
    assert unseen == "- `channel`: ````a|b ``` @someone <b>```` (10)"
    labels = [label for block in mermaid_blocks(text) for label in re.findall(r'"([^"]*)"', block)]
    assert all(not set("`|<>&#") & set(label) for label in labels)
    assert '"a?b ??? ?someone ?b?"' in mermaid_blocks(text)[-1]


def test_charts_are_capped(reference: PreparedReference) -> None:
    report = check(reference, rows(1000, seed=12), scores=np.full(1000, 0.9))
    features = [f.model_copy(update={"name": f"f{i}", "drift": True}) for i in range(12) for f in report.features[:1]]
    many = DriftReport.model_validate(report.model_dump() | {"features": [f.model_dump() for f in features]})
    text = render(many)
    assert len(mermaid_blocks(text)) == 1 + MAX_CHARTS
    assert f"_{12 + 1 - MAX_CHARTS} more drifted feature(s) not charted" in text


@pytest.mark.parametrize("seed", [2, 3])
def test_rendering_is_deterministic(reference: PreparedReference, seed: int) -> None:
    report = check(reference, rows(1000, seed=seed))
    assert render(report) == render(DriftReport.model_validate_json(report.model_dump_json()))


@pytest.mark.parametrize(
    ("origin", "line"),
    [
        (
            {"chosen_by": "window", "commit": "0123456789ab" + "c" * 28, "model_version": "model-v1",
             "read_from": "cache", "note": None},
            "**Compared with `model-v1` (commit `0123456789ab`)**, the release the window's records name: 10000 "
            "training rows (`reference.parquet`, from the DVC cache).",
        ),
        (
            {"chosen_by": "production", "commit": "d" * 40, "model_version": "model-v3", "read_from": "worktree",
             "note": "the window's records name no model version; production runs model-v3"},
            "**Compared with `model-v3` (commit `dddddddddddd`)**, the release deploy/overlays/production runs: "
            "10000 training rows (`reference.parquet`, from a temporary worktree). Why: the window's records name "
            "no model version; production runs model-v3.",
        ),
        (
            {"chosen_by": "workspace", "commit": "e" * 40, "model_version": None, "read_from": "workspace",
             "note": "no release yet\nsecond line"},
            "**Compared with the working tree (HEAD: commit `eeeeeeeeeeee`)**, the working tree: 10000 training rows "
            "(`reference.parquet`, from the working tree). Why: no release yet\ufffdsecond line.",
        ),
        (
            {"chosen_by": "workspace", "commit": None, "model_version": None, "read_from": "workspace", "note": None},
            "**Compared with the working tree**, the working tree: 10000 training rows (`reference.parquet`, from "
            "the working tree).",
        ),
    ],
)  # fmt: skip
def test_the_header_says_which_model_the_window_was_compared_with(
    reference: PreparedReference, origin: dict[str, str | None], line: str
) -> None:
    report = check(reference, rows(1000, seed=2))
    changed = DriftReport.model_validate(report.model_dump() | {"reference": report.reference.model_dump() | origin})
    lines = render(changed).splitlines()
    assert lines[4] == line  # right under the verdict


def test_the_prediction_is_named_for_the_task_and_datetime_features_are_listed(task_references: Any) -> None:
    prepared = task_references[Task.MULTICLASS]
    moved = task_rows(prepared[0].schema, 1000, seed=3)
    moved["amount"] *= 4
    report = task_check(prepared, moved)
    text = render(report)
    assert "Predicted class (multiclass model): the model's prediction of the window (the window has none)." in text
    assert next(line for line in text.splitlines() if line.startswith("| *predicted class*")).endswith(
        "⚠️ drift (PSI, Jensen-Shannon) |"
    )
    assert 'title "predicted class: share per category"' in text
    assert "Not checked" not in text
    dated = report.model_copy(update={"not_checked": [NotChecked(name="signup", reason=NOT_CHECKED_REASON)]})
    assert f"Not checked: `signup` ({NOT_CHECKED_REASON})." in render(dated).splitlines()
