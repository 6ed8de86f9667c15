"""Opt-in PNG charts for the pull-request comment.

By default the comment's charts are Mermaid diagrams and tables that GitHub renders itself, so no image is
uploaded anywhere. A repository that wants pictures sets the variable ``CML_PUBLISH_IMAGES=true``: the
comment workflow then renders these PNGs from the *validated* report data (never from files a pull request
made) and ``cml comment update --publish`` uploads them to CML's image host, where they are public and cannot
be deleted. That is why it is off by default.
"""

from __future__ import annotations

from pathlib import Path

from gitops_ml.gitops.report import CURVE_GRID, CurvePair, Report

IMAGE_NAMES = {"roc": "ROC curve", "precision_recall": "Precision-recall curve", "deltas": "Metric change"}


def _curve(ax, pair: CurvePair, x_label: str, y_label: str, title: str) -> None:
    ax.plot(CURVE_GRID, pair.base, label="base", color="#888888", linestyle="--")
    ax.plot(CURVE_GRID, pair.head, label="head", color="#1f77b4")
    ax.set(xlabel=x_label, ylabel=y_label, title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right" if "ROC" in title else "upper right")
    ax.grid(alpha=0.3)


def render_images(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write ROC, precision-recall and metric-delta charts as PNG files; return {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, pair, x_label, y_label in (
        ("roc", report.charts.roc, "false positive rate", "true positive rate"),
        ("precision_recall", report.charts.precision_recall, "recall", "precision"),
    ):
        fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
        _curve(ax, pair, x_label, y_label, IMAGE_NAMES[name])
        written[name] = _save(fig, out_dir / f"{name}.png")
    rows = [row for row in report.metrics if row.delta is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    better = [(row.delta > 0) == row.higher_is_better for row in rows]
    ax.barh([row.name for row in rows], [row.delta for row in rows],
            color=["#2ca02c" if good else "#d62728" for good in better])  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(title=f"{IMAGE_NAMES['deltas']} (head - base)", xlabel="delta")
    written["deltas"] = _save(fig, out_dir / "deltas.png")
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})  # no version stamp: same data, same bytes
    plt.close(fig)
    return path


def image_section(images: dict[str, Path], relative_to: Path) -> str:
    """Markdown that shows ``images``; paths relative to the comment file so ``cml --publish`` finds them."""
    lines = ["### Charts as images", ""]
    for name, path in images.items():
        lines.append(f"![{IMAGE_NAMES[name]}]({path.resolve().relative_to(relative_to.resolve())})")
    return "\n".join(lines) + "\n"
