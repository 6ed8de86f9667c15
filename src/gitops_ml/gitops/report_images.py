"""Opt-in PNG charts for the pull-request comment.

By default the comment's charts are Mermaid diagrams and tables that GitHub renders itself, so no image is
uploaded anywhere. A repository that wants pictures sets the variable ``CML_PUBLISH_IMAGES=true``: the
comment workflow then renders these PNGs from the *validated* report data (never from files a pull request
made) and uploads each with ``cml asset publish`` (CML's image host, where they are public and cannot be
deleted: that is why it is off by default). CML only uploads here; the comment itself is posted by
:mod:`gitops_ml.gitops.pr_comment`. The URL CML prints is checked before it goes into the comment.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gitops_ml.errors import ImageUploadError
from gitops_ml.gitops.markdown import one_line
from gitops_ml.gitops.report import Report
from gitops_ml.gitops.report_charts import (
    CURVE_GRID,
    BinaryCharts,
    CurvePair,
    MulticlassCharts,
    RegressionCharts,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CML_TIMEOUT_S = 120
LABEL_CHARS = 30
_URL_UNSAFE = re.compile(r"[\s()<>\[\]`'\"\\]")
BASE_STYLE: dict[str, Any] = {"label": "base", "color": "#888888", "linestyle": "--"}
HEAD_STYLE: dict[str, Any] = {"label": "head", "color": "#1f77b4"}


IMAGE_NAMES = {
    "roc": "ROC curve",
    "precision_recall": "Precision-recall curve",
    "per_class_f1": "F1 per class",
    "confusion": "Confusion matrix (head)",
    "predicted_actual": "Predicted vs actual",
    "residuals": "Residuals (actual - predicted)",
    "deltas": "Metric change",
}


def _label(text: str) -> str:
    """A class name from the pull request as plain image text: one line, shortened, ``$`` not read as math."""
    short = one_line(text)
    short = short if len(short) <= LABEL_CHARS else short[: LABEL_CHARS - 1] + "…"
    return short.replace("$", r"\$")


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _curve(ax: Axes, pair: CurvePair, x_label: str, y_label: str, title: str) -> None:
    if pair.base is not None:
        ax.plot(CURVE_GRID, pair.base, **BASE_STYLE)
    ax.plot(CURVE_GRID, pair.head, **HEAD_STYLE)
    ax.set(xlabel=x_label, ylabel=y_label, title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right" if "ROC" in title else "upper right")
    ax.grid(alpha=0.3)


def _binary(charts: BinaryCharts) -> dict[str, Figure]:
    figures = {}
    for name, pair, x_label, y_label in (
        ("roc", charts.roc, "false positive rate", "true positive rate"),
        ("precision_recall", charts.precision_recall, "recall", "precision"),
    ):
        fig, ax = _figure(5, 4)
        _curve(ax, pair, x_label, y_label, IMAGE_NAMES[name])
        figures[name] = fig
    return figures


def _confusion(classes: list[str], matrix: list[list[int]]) -> Figure:
    labels = [_label(c) for c in classes]
    size = 2.5 + 0.4 * len(labels)
    fig, ax = _figure(size + 1, size)
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, label="test rows")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=45, ha="right")
    ax.set_yticks(ticks, labels)
    dark = max(max(row) for row in matrix) / 2
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", fontsize=8, color="white" if value > dark else "black")
    ax.set(xlabel="predicted", ylabel="actual", title=IMAGE_NAMES["confusion"])
    return fig


def _multiclass(charts: MulticlassCharts) -> dict[str, Figure]:
    head, base = charts.head, charts.base
    base_f1 = dict(zip(base.classes, base.f1, strict=True)) if base else {}
    fig, ax = _figure(6, 1.5 + 0.3 * len(head.classes))
    positions = list(range(len(head.classes)))
    ax.barh(positions, head.f1, color=HEAD_STYLE["color"], label="head")
    marked = [(p, base_f1[c]) for p, c in zip(positions, head.classes, strict=True) if c in base_f1]
    if marked:
        ax.scatter([v for _, v in marked], [p for p, _ in marked], marker="|", s=300, color="black", label="base")
    ax.set_yticks(positions, [_label(c) for c in head.classes])
    ax.invert_yaxis()  # the first class on top, as the comment's table lists them
    ax.set(xlim=(0, 1), xlabel="F1", title=IMAGE_NAMES["per_class_f1"])
    ax.legend(loc="lower right")
    figures = {"per_class_f1": fig}
    if head.matrix is not None:
        figures["confusion"] = _confusion(head.classes, head.matrix)
    return figures


def _regression(charts: RegressionCharts) -> dict[str, Figure]:
    binned, hist = charts.predicted_actual, charts.residuals
    fig, ax = _figure(5, 4)
    ax.plot(binned.actual, binned.actual, color="black", linewidth=0.8, label="predicted = actual")
    if binned.base is not None:
        ax.plot(binned.actual, binned.base, marker="o", **BASE_STYLE)
    ax.plot(binned.actual, binned.head, marker="o", **HEAD_STYLE)
    ax.set(xlabel="actual value (bin mean)", ylabel="predicted value (bin mean)", title=IMAGE_NAMES["predicted_actual"])
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    figures = {"predicted_actual": fig}
    fig, ax = _figure(6, 3.5)
    if hist.base is not None:
        ax.stairs(hist.base, hist.edges, **BASE_STYLE)
    ax.stairs(hist.head, hist.edges, fill=True, alpha=0.4, **HEAD_STYLE)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(xlabel="residual (end bins include the rows beyond)", ylabel="share of test rows",
           title=IMAGE_NAMES["residuals"])  # fmt: skip
    ax.legend(loc="upper right")
    figures["residuals"] = fig
    return figures


def render_images(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write the task's charts and the metric deltas as PNG files; return {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = report.charts
    if isinstance(charts, BinaryCharts):
        figures = _binary(charts)
    elif isinstance(charts, MulticlassCharts):
        figures = _multiclass(charts)
    else:
        figures = _regression(charts)
    deltas = [(row.name, row.delta, row.higher_is_better) for row in report.metrics if row.delta is not None]
    fig, ax = _figure(6, 3.5)
    ax.barh([name for name, _, _ in deltas], [delta for _, delta, _ in deltas],
            color=["#2ca02c" if (delta > 0) == up else "#d62728" for _, delta, up in deltas])  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(title=f"{IMAGE_NAMES['deltas']} (head - base)", xlabel="delta")
    figures["deltas"] = fig
    return {name: _save(figure, out_dir / f"{name}.png") for name, figure in figures.items()}


def _save(fig: Figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})  # no version stamp: same data, same bytes
    plt.close(fig)
    return path


def checked_url(text: str) -> str:
    """The last line ``cml asset publish`` printed, if it is a plain https URL safe inside ``![...](...)``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    url = lines[-1] if lines else ""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or _URL_UNSAFE.search(url) or len(url) > 2_000:
        raise ImageUploadError(f"cml asset publish printed {url[:200]!r}, not an https URL")
    return url


def publish_with_cml(path: Path, cml: Path, repository_url: str) -> str:
    """Upload the PNG at ``path`` with ``cml asset publish`` and return its URL.

    CML runs with only PATH and HOME from the environment (no token: an upload needs none) and telemetry off;
    ``--repo`` spares it from reading the git remote, ``--mime-type`` from sniffing the file.
    """
    if not cml.is_file():
        raise ImageUploadError(
            f"CML is not installed at {cml}: `make cml-install` installs it (only when CML_PUBLISH_IMAGES is true)"
        )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}  # noqa: S108
    env["ITERATIVE_DO_NOT_TRACK"] = "1"
    args = [str(cml), "asset", "publish", "--mime-type", "image/png", "--repo", repository_url, str(path)]
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=CML_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageUploadError(f"cml asset publish {path.name} failed: {exc}") from None
    if result.returncode != 0:
        raise ImageUploadError(
            f"cml asset publish {path.name} exited {result.returncode}: {result.stderr.strip()[-500:]}"
        )
    return checked_url(result.stdout)


def image_section(urls: dict[str, str]) -> str:
    """Markdown that shows the uploaded charts ``urls`` ({name: checked https URL})."""
    lines = ["### Charts as images", ""]
    lines += [f"![{IMAGE_NAMES[name]}]({url})" for name, url in urls.items()]
    return "\n".join(lines) + "\n"
