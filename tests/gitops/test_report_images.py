"""Opt-in PNG charts: drawn from the validated report of each task, the same bytes for the same data, and only a
plain https URL from CML goes into the comment."""

from __future__ import annotations

import pytest

from gitops_ml.gitops.report_images import IMAGE_NAMES, ImageUploadError, checked_url, image_section, render_images
from gitops_ml.tasks import Task
from tests.gitops.test_report import sample_charts, sample_report

PNG = b"\x89PNG\r\n\x1a\n"
EXPECTED = {
    Task.BINARY: {"roc", "precision_recall", "deltas"},
    Task.MULTICLASS: {"per_class_f1", "confusion", "deltas"},
    Task.REGRESSION: {"predicted_actual", "residuals", "deltas"},
}


@pytest.mark.parametrize("task", list(Task))
def test_each_task_gets_its_charts_as_real_pngs(task: Task, tmp_path):
    images = render_images(sample_report(task), tmp_path / "images")
    assert set(images) == EXPECTED[task] and set(images) <= set(IMAGE_NAMES)
    for path in images.values():
        data = path.read_bytes()
        assert data.startswith(PNG)
        assert len(data) > 5_000  # a drawn chart, not an empty canvas
    again = render_images(sample_report(task), tmp_path / "again")
    assert all(images[name].read_bytes() == again[name].read_bytes() for name in images)


def test_a_base_of_another_task_and_class_names_full_of_markup_still_draw(tmp_path):
    charts = sample_charts(Task.MULTICLASS)
    charts["base"] = None
    charts["head"]["classes"] = ["$x^2$ and $", "a very long class name " * 20, "\u202eevil\n`x`"]
    images = render_images(sample_report(Task.MULTICLASS, charts=charts), tmp_path)
    assert images["per_class_f1"].read_bytes().startswith(PNG)
    regression = sample_charts(Task.REGRESSION)
    regression["predicted_actual"]["base"] = regression["residuals"]["base"] = None
    assert render_images(sample_report(Task.REGRESSION, charts=regression), tmp_path / "r")["residuals"].exists()


def test_a_large_multiclass_report_leaves_the_matrix_image_out(tmp_path):
    names = [f"class {i}" for i in range(30)]
    head = {"classes": names, "f1": [i / 30 for i in range(30)], "rows": [2] * 30, "matrix": None}
    report = sample_report(Task.MULTICLASS, charts={"task": "multiclass", "base": None, "head": head})
    assert set(render_images(report, tmp_path)) == {"per_class_f1", "deltas"}


def test_the_image_section_links_each_uploaded_chart():
    section = image_section({"roc": "https://asset.example/roc.png?cml=png", "residuals": "https://asset.example/d"})
    assert "![ROC curve](https://asset.example/roc.png?cml=png)" in section
    assert "![Residuals (actual - predicted)](https://asset.example/d)" in section


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
    with pytest.raises(ImageUploadError, match="not an https URL"):
        checked_url(printed)


def test_the_url_cml_prints_last_is_taken():
    url = "https://asset.cml.dev/0a1b2c?cml=png&cache-bypass=5f1e"
    assert checked_url(f"some log line\n{url}\n") == url
