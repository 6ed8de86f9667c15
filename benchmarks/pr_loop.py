"""Pull-request loop benchmark: ``make report`` after a params-only change, with the base already cached.

In a temporary project (git repository with its own DVC cache): the base pipeline runs and is committed on
``main``; a branch changes one training param; then ``make report BASE=main`` is measured as a whole, its
process tree sampled. The head pipeline's own compute is the wall time of the stage processes that ran in the
project itself (train and evaluate, which the param feeds); everything else is what the report loop adds:
DVC's checks, the base side (a git worktree restored from the DVC cache) and building the report. The branch
carries the ``dvc.lock`` of its author's own run (made in a clone, see :func:`developer_lock`), as a pull request
does: CI's ``make report`` (``STRICT=1``) refuses a stale one.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import WORK, Measured, copy_project, measure, sh, use_sample_rows
from benchmarks.pipeline import STAGES, stage_of

TARGET_OVERHEAD_S = 5.0


def change_param(params_file: Path) -> str:
    """Lower ``train.hist_gradient_boosting.max_iter`` by a quarter (a params-only change); return the new line."""
    text = params_file.read_text(encoding="utf-8")
    match = re.search(r"(  hist_gradient_boosting:\n(?:    .*\n)*?    max_iter: )(\d+)", text)
    if match is None:
        raise ValueError(f"{params_file}: no train.hist_gradient_boosting.max_iter to change")
    new = max(1, int(match.group(2)) * 3 // 4)
    params_file.write_text(text[: match.start(2)] + str(new) + text[match.end(2) :], encoding="utf-8")
    return f"train.hist_gradient_boosting.max_iter: {match.group(2)} -> {new}"


def developer_lock(project: Path, cache: Path, where: Path) -> str:
    """The ``dvc.lock`` that ``dvc repro`` writes for ``project``'s HEAD, made in a clone with a copy of ``cache``.

    A pull request carries the dvc.lock of its author's own run (CI's ``make report``, ``STRICT=1``, refuses a stale
    one, as ``check-lock`` does); making it in a clone with a *copy* of the cache keeps the head's outputs out of the
    measured project's cache, so ``make report`` there computes the head's stages as CI would.
    """
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    clone = where / "project"
    sh(["git", "clone", "-q", str(project), str(clone)], where)
    shutil.copytree(cache, where / "dvc-cache")
    sh(["dvc", "cache", "dir", "--local", str(where / "dvc-cache")], clone)
    sh(["dvc", "checkout", "--allow-missing", "--quiet"], clone)
    sh(["dvc", "repro"], clone)
    lock = (clone / "dvc.lock").read_text(encoding="utf-8")
    shutil.rmtree(where, ignore_errors=True)
    return lock


def breakdown(run: Measured, project: Path) -> dict[str, Any]:
    """Split ``make report``'s wall time into the head's stage compute, the base side and the rest."""
    head: dict[str, float] = {}
    base_start, base_end = None, None
    report_s = 0.0
    for sample in run.processes.values():
        span = sample.last_s - sample.first_s
        if "gitops-ml-base-" in sample.cwd:
            base_start = sample.first_s if base_start is None else min(base_start, sample.first_s)
            base_end = sample.last_s if base_end is None else max(base_end, sample.last_s)
            continue
        name = stage_of(sample.cmdline)
        if name and Path(sample.cwd) == project:
            if name in STAGES:
                head[name] = max(head.get(name, 0.0), span)
            elif name == "report":
                report_s = max(report_s, span)
    head_compute = sum(head.values())
    venv = str(Path(sys.executable).parent) + "/"
    timeline = [
        {
            "start_s": round(p.first_s, 2),
            "seconds": round(p.last_s - p.first_s, 2),
            "where": "base worktree" if "gitops-ml-base-" in p.cwd else "project",
            "command": p.cmdline.replace(venv, "")[:90],
        }
        for p in sorted(run.processes.values(), key=lambda p: p.first_s)
        if p.last_s - p.first_s >= 0.3
    ]
    base_s = (base_end - base_start) if base_start is not None and base_end is not None else 0.0
    return {
        "head_stages_s": {k: round(v, 2) for k, v in head.items()},
        "head_compute_s": round(head_compute, 2),
        "report_command_s": round(report_s, 2),
        "base_side_s": round(base_s, 2),
        "overhead_s": round(run.wall_s - head_compute, 2),
        "timeline": timeline,
    }


def bench(rows: int, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Set up base and branch in a new project, then measure ``make report BASE=main``."""
    # A fresh cache each time, seeded from the pipeline benchmark's when it has one (the base's stages are then in
    # its run-cache); the head's change must never be in it, or the head would be restored instead of computed.
    cache = WORK / "pr_loop" / f"{rows}" / "dvc-cache"
    shutil.rmtree(cache, ignore_errors=True)
    pipeline_cache = WORK / "pipeline" / f"{rows}" / "dvc-cache"
    if pipeline_cache.exists():
        shutil.copytree(pipeline_cache, cache)
    project = copy_project(WORK / "pr_loop" / f"{rows}" / "project", cache)
    say(f"pr_loop: base pipeline on {rows} rows (committed on main)")
    use_sample_rows(project, rows)
    sh(["dvc", "repro"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "base: pipeline outputs"], project)
    sh(["git", "checkout", "-qb", "params-change"], project)
    change = change_param(project / "params.yaml")
    sh(["git", "commit", "-qam", f"params: {change}"], project)
    say("pr_loop: the developer's own run of the change (in a clone), for the dvc.lock a pull request commits")
    lock = developer_lock(project, cache, WORK / "pr_loop" / f"{rows}" / "developer")
    (project / "dvc.lock").write_text(lock, encoding="utf-8")
    sh(["git", "commit", "-qam", "dvc.lock of the change"], project)
    say(f"pr_loop: make report BASE=main after {change}")
    # `-o install RUN=`: use this virtualenv (first on PATH) instead of creating one in the copy.
    run = measure(["make", "-o", "install", "report", "BASE=main", "RUN="], project)
    if not (project / "reports" / "pr" / "report.md").exists():
        raise RuntimeError(f"make report wrote no reports/pr/report.md; output:\n{run.stdout[-2000:]}")
    parts = breakdown(run, project)
    ran = sorted(parts["head_stages_s"])
    if not ran:
        raise RuntimeError("the head's stages did not run (restored from a cache?): nothing to compare against")
    return {
        "rows": rows,
        "change": change,
        "wall_s": round(run.wall_s, 2),
        "cpu_s": round(run.cpu_s, 2),
        "peak_rss_mb": round(run.peak_rss_bytes / 2**20, 1),
        **parts,
        "head_stages_ran": ran,
        "target": {
            "overhead_s": parts["overhead_s"],
            "limit_s": TARGET_OVERHEAD_S,
            "met": parts["overhead_s"] <= TARGET_OVERHEAD_S,
        },
    }
