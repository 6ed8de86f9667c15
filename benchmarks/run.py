"""Run the benchmarks: ``python -m benchmarks.run [--quick] [--only pipeline,pr_loop,serving,model_call,...]``.

``make bench`` runs them all at full size; ``make bench QUICK=1`` runs small sizes in a few minutes (to check the
harness, not to quote); ``make bench ONLY=latency`` runs a subset. Each benchmark prints its table and writes
``benchmarks/results/<name>.json``, ``.md`` and ``.png`` (``<name>-quick.*`` for quick runs); a full run into the
default results folder also rewrites the generated goals table of its docs page, if it has one
(``report.DOC_BLOCKS``: latency's in docs/performance-latency.md). Everything runs in
temporary project copies under ``benchmarks/work/``; every load test targets 127.0.0.1 and is bounded in requests
and time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, BenchError, machine
from benchmarks.report import update_doc, write_outputs

BENCHMARKS = (
    "pipeline",
    "pr_loop",
    "serving",
    "prediction_log",
    "drift",
    "latency",
    "model_call",
    "dask_engine",
    "fork_ci",
)
QUICK_ROWS = 5_000
"""Rows of sample data in a quick run (the serving benchmark reuses the pipeline benchmark's trained project)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def runner(name: str, quick: bool) -> Callable[[], dict[str, Any]]:
    """The function that runs benchmark ``name`` at the quick or full size."""
    if name == "pipeline":
        from benchmarks import pipeline

        sizes = [QUICK_ROWS] if quick else [10_000, 100_000, 1_000_000]
        return lambda: pipeline.bench(sizes, repeats=1 if quick else 3, say=_say)
    if name == "pr_loop":
        from benchmarks import pr_loop

        return lambda: pr_loop.bench(rows=QUICK_ROWS if quick else 100_000, say=_say)
    if name == "serving":
        from benchmarks import serving

        return lambda: serving.bench(quick=quick, say=_say, rows=QUICK_ROWS if quick else 10_000)
    if name == "prediction_log":
        from benchmarks import prediction_log

        return lambda: prediction_log.bench(quick=quick, say=_say, rows=QUICK_ROWS if quick else 10_000)
    if name == "drift":
        from benchmarks import drift

        return lambda: drift.bench(quick=quick, say=_say)
    if name == "latency":
        from benchmarks import latency

        return lambda: latency.bench(quick=quick, say=_say, rows=QUICK_ROWS if quick else 10_000)
    if name == "model_call":
        from benchmarks import model_call

        return lambda: model_call.bench(quick=quick, say=_say, rows=2_000 if quick else 10_000)

    if name == "dask_engine":
        from benchmarks import dask_engine

        return lambda: dask_engine.bench([QUICK_ROWS] if quick else [1_000_000, 10_000_000], say=_say)
    if name == "fork_ci":
        from benchmarks import fork_ci

        # quick: the project's side only (the template copy's `make test` under act alone takes over 20 minutes)
        return lambda: fork_ci.bench(say=_say, variants=("project",) if quick else fork_ci.VARIANTS)
    raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; print each table; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes (harness check)")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where the results go")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    for name in names:
        started, facts = _now(), machine()
        _say(f"{name}: starting ({'quick' if args.quick else 'full'})")
        clock = time.perf_counter()
        try:
            measured = runner(name, args.quick)()
        except BenchError as exc:
            _say(f"{name}: FAILED\n{exc}")
            failed.append(name)
            continue
        result = {
            "name": name,
            "quick": args.quick,
            "command": f"make bench{' QUICK=1' if args.quick else ''}",
            "started": started,
            "finished": _now(),
            "duration_s": round(time.perf_counter() - clock, 1),
            "machine": facts,
            **measured,
        }
        path, table = write_outputs(name, result, args.out_dir, args.quick)
        print(f"\n## {name}\n\n{table}", flush=True)
        _say(f"{name}: done in {result['duration_s']} s; wrote {path} (.md, .png)")
        page = update_doc(name, result, ROOT) if not args.quick and args.out_dir == RESULTS else None
        if page is not None:
            _say(f"{name}: rewrote the goals table in {page.relative_to(ROOT)}")
    if failed:
        _say(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
