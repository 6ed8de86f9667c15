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
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gitops_ml.errors import ImageUploadError
from gitops_ml.gitops.report import CURVE_GRID, CurvePair, Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CML_TIMEOUT_S = 120
_URL_UNSAFE = re.compile(r"[\s()<>\[\]`'\"\\]")


IMAGE_NAMES = {"roc": "ROC curve", "precision_recall": "Precision-recall curve", "deltas": "Metric change"}


def _curve(ax: Axes, pair: CurvePair, x_label: str, y_label: str, title: str) -> None:
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
    deltas = [(row.name, row.delta, row.higher_is_better) for row in report.metrics if row.delta is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.barh([name for name, _, _ in deltas], [delta for _, delta, _ in deltas],
            color=["#2ca02c" if (delta > 0) == up else "#d62728" for _, delta, up in deltas])  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(title=f"{IMAGE_NAMES['deltas']} (head - base)", xlabel="delta")
    written["deltas"] = _save(fig, out_dir / "deltas.png")
    return written


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
