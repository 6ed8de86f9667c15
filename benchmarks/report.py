"""Turning benchmark results into what people read: a Markdown table and a PNG chart per benchmark.

Each benchmark writes ``benchmarks/results/<name>.json`` (everything measured), ``<name>.md`` (the table that
docs/performance.md quotes) and ``<name>.png``. Quick runs use ``<name>-quick.*`` so they never
overwrite the full results that docs/performance.md quotes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display: render to files only
import matplotlib.pyplot as plt
from matplotlib.ticker import ScalarFormatter

from benchmarks.pipeline import MLFLOW_RUN
from gitops_ml.io import atomic_write, write_json

STAGE_COLOURS = {
    "validate": "#4c72b0",
    "split": "#55a868",
    "train": "#c44e52",
    "evaluate": "#8172b2",
    "drift_reference": "#937860",
}


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _rows(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def machine_line(result: dict[str, Any]) -> str:
    """One line saying where and when a result was measured."""
    m = result["machine"]
    return (
        f"Measured {result['finished']} on {m['cpu']} ({m['logical_cpus']} logical CPUs, {m['memory_gb']} GB), "
        f"{m['os']}, Python {m['python']}; 1-minute load average {m['load_average_1m_at_start']} at the start "
        f"(the machine was {'shared with other jobs' if m['load_average_1m_at_start'] > 0.5 else 'idle'})."
    )


# --- pipeline ---


def _beside(process: dict[str, float] | None) -> str:
    return "none" if process is None else f"{process['wall_s']:.1f} s / {process['peak_rss_mb']:.0f} MB"


def pipeline_markdown(result: dict[str, Any]) -> str:
    """Tables of the pipeline benchmark: totals and ratio, then each stage, then the memory fit."""
    totals, stages = [], []
    for size in result["sizes"]:
        bare, pipe = size["bare"], size["pipeline"]
        totals.append(
            [
                _rows(size["rows"]),
                f"{bare['wall_s']:.1f}",
                f"{pipe['wall_s']:.1f}",
                f"{size['ratio_wall']:.2f}x",
                f"{size['overhead_s']:+.1f}",
                f"{bare['peak_rss_mb']:.0f}",
                f"{pipe['peak_rss_mb']:.0f}",
            ]
        )
        s = pipe["stages"]
        stages.append(
            [
                _rows(size["rows"]),
                *(f"{s[name]['wall_s']:.1f} s / {s[name]['peak_rss_mb']:.0f} MB" for name in STAGE_COLOURS),
                f"{pipe['dvc_overhead_s']:.1f} s",
                f"{bare['parts']['fit_s']:.1f} s",
                _beside(s.get(MLFLOW_RUN)),
            ]
        )
    text = _md_table(
        [
            "rows",
            "bare script (s)",
            "`dvc repro` (s)",
            "pipeline / bare",
            "difference (s)",
            "bare peak MB",
            "pipeline peak MB",
        ],
        totals,
    )
    columns = ["rows", *STAGE_COLOURS, "DVC between stages", "bare script's fit", "MLflow run (beside evaluate)"]
    text += "\n" + _md_table(columns, stages)
    fit, target = result["memory_fit"], result["target"]
    text += (
        f"\nPeak memory of the pipeline ≈ {fit['fixed_mb']:.0f} MB + {fit['mb_per_100k_rows']:.1f} MB per 100k rows "
        f"(largest gap of a measured point from that line: {fit['max_relative_gap']:.0%}).\n"
    )
    if target["applies"]:
        verdict = "met" if target["met"] else "missed"
        text += (
            f"Target: whole pipeline within {target['limit']}x the bare script at {_rows(target['rows'])} rows: "
            f"{target['ratio_wall']:.2f}x, {verdict}.\n"
        )
    else:
        text += f"(Quick run: the {target['limit']}x target is judged at 1M rows by the full run.)\n"
    return text


def pipeline_chart(result: dict[str, Any], path: Path) -> None:
    """Stacked stage times against the bare script per size, and peak memory against rows."""
    sizes = result["sizes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [_rows(s["rows"]) for s in sizes]
    xs = range(len(sizes))
    for i, size in enumerate(sizes):
        total = size["pipeline"]["wall_s"]
        bottom = 0.0
        for name, colour in STAGE_COLOURS.items():
            share = size["pipeline"]["stages"][name]["wall_s"] / total
            left.bar(i + 0.2, share, 0.38, bottom=bottom, color=colour, label=name if i == 0 else None)
            bottom += share
        left.bar(i + 0.2, 1 - bottom, 0.38, bottom=bottom, color="#cccccc", label="DVC" if i == 0 else None)
        left.bar(i - 0.2, size["bare"]["wall_s"] / total, 0.38, color="#333333", label="bare" if i == 0 else None)
        left.text(i + 0.2, 1.01, f"{total:.0f} s", ha="center", fontsize=8)
        left.text(
            i - 0.2, size["bare"]["wall_s"] / total + 0.01, f"{size['bare']['wall_s']:.0f} s", ha="center", fontsize=8
        )
    left.set_xticks(list(xs), labels)
    left.set_xlabel("rows of sample data")
    left.set_ylabel("wall time, share of the pipeline's")
    left.set_title("bare script (left) vs dvc repro by stage (right)")
    left.set_ylim(0, 1.3)
    left.legend(fontsize=8, loc="upper left", ncol=3)
    rows = [s["rows"] for s in sizes]
    right.plot(rows, [s["pipeline"]["peak_rss_mb"] for s in sizes], "o-", label="dvc repro (whole tree)")
    right.plot(rows, [s["pipeline"]["stages"]["train"]["peak_rss_mb"] for s in sizes], "s--", label="train stage")
    right.plot(rows, [s["bare"]["peak_rss_mb"] for s in sizes], "^-", color="#333333", label="bare script")
    right.set_xlabel("rows")
    right.set_ylabel("peak RSS (MB)")
    right.set_title("peak memory against rows (linear axes)")
    right.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


# --- serving ---

SERVER_LABELS = {"bentoml": "(a) BentoML service", "mlflow": "(b) mlflow models serve", "in_process": "(c) in process"}


def serving_markdown(result: dict[str, Any]) -> str:
    """One row per server x records per request x concurrency, then the two targets."""
    rows = [
        [
            SERVER_LABELS[c["server"]],
            str(c["records"]),
            str(c["concurrency"]),
            f"{c['requests_per_s']:.0f}",
            f"{c['records_per_s']:.0f}",
            f"{c['p50_ms']:.1f}",
            f"{c['p99_ms']:.1f}",
            f"{c['errors']}/{c['requests']}",
        ]
        for c in sorted(result["cells"], key=lambda c: (c["records"], c["concurrency"], c["server"]))
    ]
    text = _md_table(
        ["server", "records/request", "concurrency", "requests/s", "records/s", "p50 ms", "p99 ms", "errors"], rows
    )
    t1 = result["targets"]["bento_vs_mlflow_rps_1_record_c32"]
    t2 = result["targets"]["bento_share_of_in_process_records_100_records_c32"]
    text += (
        f"\nWorkers per server: {result['workers']}; seconds to ready: "
        + ", ".join(f"{k} {v}" for k, v in result["startup_s"].items())
        + ".\n"
        f"Target 1 (1-record requests, concurrency 32): BentoML {t1['value']:.2f}x the requests/s of MLflow "
        f"(need >= {t1['limit']}x), p99 {t1['p99_bento_ms']:.0f} ms vs {t1['p99_mlflow_ms']:.0f} ms: "
        f"{'met' if t1['met'] else 'missed'}.\n"
        f"Target 2 (100-record requests, concurrency 32): BentoML at {t2['value']:.0%} of in-process records/s "
        f"(need >= {t2['limit']:.0%}): {'met' if t2['met'] else 'missed'}.\n"
    )
    return text


def serving_chart(result: dict[str, Any], path: Path) -> None:
    """Requests/s (1 record) and records/s (100 records) against concurrency, one line per server."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, records, key in ((axes[0], 1, "requests_per_s"), (axes[1], 100, "records_per_s")):
        for server, label in SERVER_LABELS.items():
            cells = sorted(
                (c for c in result["cells"] if c["server"] == server and c["records"] == records),
                key=lambda c: c["concurrency"],
            )
            ax.plot([c["concurrency"] for c in cells], [c[key] for c in cells], "o-", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(key.replace("_per_s", "/s"))
        ax.set_title(f"{records}-record requests")
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


# --- prediction log ---


PREDICTION_LOG_HEADER = [
    "records/request", "log", "requests/s", "records/s", "p50 ms", "p99 ms", "server CPU ms/request",
    "each run, requests/s", "requests/s change, pairs", "change of medians", "CPU change",
]  # fmt: skip


def prediction_log_markdown(result: dict[str, Any]) -> str:
    """Throughput with the prediction log off and on, per request size, and the loss."""
    rows = []
    for records, size in result["sizes"].items():
        for mode in ("off", "on"):
            rows.append(
                [
                    records,
                    mode,
                    f"{size[f'requests_per_s_{mode}']:.0f}",
                    f"{size[f'records_per_s_{mode}']:.0f}",
                    f"{size[f'p50_ms_{mode}']:.1f}",
                    f"{size[f'p99_ms_{mode}']:.1f}",
                    f"{size[f'server_cpu_ms_per_request_{mode}']:.2f}",
                    " / ".join(f"{r['requests_per_s']:.0f}" for r in size["runs"][mode]),
                    f"{-size['loss']:+.1%}" if mode == "on" else "",
                    f"{-size['loss_of_medians']:+.1%}" if mode == "on" else "",
                    f"{size['cpu_cost']:+.1%}" if mode == "on" else "",
                ]
            )
    text = _md_table(PREDICTION_LOG_HEADER, rows)
    log, target = result["log"], result["target"]
    text += (
        f"\nMedians over the runs; the requests/s change is the median of the on/off ratios of back-to-back run pairs "
        f"(the change of the two medians beside it). Concurrency {result['concurrency']}, {result['workers']} "
        "worker(s) per server, "
        f"{result['repeats']} alternating runs of at most {result['max_seconds_per_run']:.0f} s per cell. "
        f"The logging server scored {log['scored']} records, wrote {log['written']} ({log['records_on_disk']} on "
        f"disk) and dropped {log['dropped']}.\n"
        f"Target: at most {target['limit']:.0%} fewer requests/s with the log on (pairs): at worst "
        f"{target['worst_loss']:.1%} fewer, {'met' if target['met'] else 'missed'}. Server CPU per request with the "
        f"log on: at worst {target['worst_cpu_cost']:+.1%}.\n"
        f"In process, the writer thread spends {result['writer_cpu_us_per_record']:.1f} microseconds of CPU per "
        f"record (building its request's line and writing it){_share_of_server(result)}.\n"
    )
    return text


def _share_of_server(result: dict[str, Any]) -> str:
    """The writer's CPU per record as a share of the server's CPU per record with the log off, per request size."""
    shares = []
    for records, size in result["sizes"].items():
        server_us = size["server_cpu_ms_per_request_off"] * 1000 / int(records)
        if server_us:
            shares.append(f"{result['writer_cpu_us_per_record'] / server_us:.1%} at {records} record(s)/request")
    return f": {', '.join(shares)} of the server's CPU per record with the log off" if shares else ""


def prediction_log_chart(result: dict[str, Any], path: Path) -> None:
    """Median requests/s with the log off and on, one pair of bars per request size."""
    sizes = list(result["sizes"])
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.38
    for offset, mode, colour in ((-width / 2, "off", "#4c72b0"), (width / 2, "on", "#c44e52")):
        values = [result["sizes"][s][f"requests_per_s_{mode}"] for s in sizes]
        ax.bar([i + offset for i in range(len(sizes))], values, width, label=f"prediction log {mode}", color=colour)
    ax.set_xticks(range(len(sizes)), [f"{s} record(s)/request" for s in sizes])
    ax.set_ylabel("requests/s (median)")
    ax.set_title(f"Prediction log cost at concurrency {result['concurrency']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


# --- pull-request loop ---


def pr_loop_markdown(result: dict[str, Any]) -> str:
    """Where ``make report``'s wall time goes."""
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result["head_stages_s"].items())
    rows = [
        ["`make report BASE=main` (whole)", f"{result['wall_s']:.1f}"],
        [f"head pipeline's own compute ({stages})", f"{result['head_compute_s']:.1f}"],
        ["everything else (the loop's overhead)", f"{result['overhead_s']:.1f}"],
        ["  of which `gitops-ml report`", f"{result['report_command_s']:.1f}"],
        [
            "    of which the base side (worktree, restore from cache)",
            f"{result['base_side_s']:.1f}" if result["base_side_s"] else "in the report's process",
        ],
    ]
    target = result["target"]
    text = _md_table(["step", "seconds"], rows)
    text += (
        f"\n{result['rows'] // 1000}k rows, change: {result['change']}. Target: at most {target['limit_s']:.0f} s "
        f"beyond the head pipeline's compute: {target['overhead_s']:.1f} s, {'met' if target['met'] else 'missed'}.\n"
    )
    return text


def pr_loop_chart(result: dict[str, Any], path: Path) -> None:
    """The processes of ``make report`` on a time line."""
    timeline = result["timeline"]
    fig, ax = plt.subplots(figsize=(12, 0.35 * len(timeline) + 1.5))
    for i, step in enumerate(timeline):
        colour = (
            "#c44e52"
            if any(f"gitops-ml {s.replace('_', '-')}" in step["command"] for s in STAGE_COLOURS)
            else "#4c72b0"
        )
        if step["where"] == "base worktree":
            colour = "#55a868"
        ax.barh(i, step["seconds"], left=step["start_s"], color=colour)
        ax.text(step["start_s"] + step["seconds"] + 0.1, i, step["command"][:70], va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_xlabel("seconds since `make report` started (red: head stages, green: base worktree)")
    ax.set_title(f"make report BASE=main: {result['wall_s']:.1f} s, head compute {result['head_compute_s']:.1f} s")
    ax.set_xlim(0, result["wall_s"] * 1.6)
    fig.tight_layout()
    _save(fig, path)


# --- latency ---

LATENCY_LABELS = {
    "bentoml": "(a) service",
    "bentoml_auth": "(b) service, auth on",
    "bare_asgi": "(c) bare ASGI app",
    "mlflow": "(d) mlflow models serve",
    "in_process": "(e) in process",
}
LATENCY_GOALS = {
    "service_knee_share_of_bare_1_record": "service's highest rate >= 0.7x the bare app's",
    "p99_at_100_per_s_auth_on_1_record_ms": "p99 <= 10 ms at 100/s with authentication on",
}


def _ms(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _knee(rate: int | None, max_rate: int) -> str:
    if rate is None:
        return "none"
    return f">= {rate}/s (highest tried)" if rate >= max_rate else f"{rate}/s"


def _breakdown(parts: dict[str, float] | None) -> str:
    if not parts:
        return "n/a"
    keys = ("http_and_validation_ms", "queue_wait_ms", "model_call_ms", "outside_server_ms")
    return " / ".join(f"{parts[k]:.1f}" for k in keys)


def latency_goals_table(result: dict[str, Any]) -> str:
    """One row per task: the knees the first goal compares and the p99 of the second, each with its verdict."""
    limits, top = result["goal_limits"], result["ladder"]["max_rate"]
    rows = []
    for task, measured in result["tasks"].items():
        share, p99 = (measured["goals"][g] for g in LATENCY_GOALS)
        rows.append(
            [
                task,
                _knee(share["service"], top),
                _knee(share["bare_asgi"], top),
                f"{share['value']:.2f}x, {share['verdict']}" if share["value"] is not None else share["verdict"],
                f"{_ms(p99['value'])} ms, {p99['verdict']}" if p99["value"] is not None else p99["verdict"],
            ]
        )
    return _md_table(
        [
            "task",
            f"service: highest rate with p99 <= {result['p99_limit_ms']:.0f} ms, 1 record",
            "bare ASGI app",
            f"service / bare app (goal >= {limits['share_of_bare']}x)",
            f"p99 at {limits['rate']}/s, auth on (goal <= {limits['p99_ms']:.0f} ms)",
        ],
        rows,
    )


def _where_lines(goal: dict[str, Any]) -> list[str]:
    """Where the time went for a goal not met: the step it rests on, with the service's breakdown."""
    where = goal.get("where") or {}
    lines = []
    for server, cell in where.items():
        if cell is None:
            continue
        line = (
            f"  - {LATENCY_LABELS[server]} at {cell['rate']}/s: p50 {_ms(cell['p50_ms'])} ms, p99 "
            f"{_ms(cell['p99_ms'])} ms, errors {cell['errors']}/{cell['requests']}, generator lag p99 "
            f"{_ms(cell['send_lag_p99_ms'])} ms"
        )
        if cell["breakdown"]:
            line += f"; mean ms HTTP+validation / queue / model / outside: {_breakdown(cell['breakdown'])}"
        if cell["first_error"]:
            line += f"; first error: {cell['first_error']}"
        lines.append(line)
    return lines


def latency_markdown(result: dict[str, Any]) -> str:
    """The goals per task, then per task each server's knee and every step tried, then where the time went."""
    ladder, sizes = result["ladder"], [str(n) for n in result["record_sizes"]]
    text = latency_goals_table(result)
    where: list[str] = []
    for task, measured in result["tasks"].items():
        text += f"\n**{task}** (scoring path: {measured['scoring_path']}; {measured['workers']} worker(s))\n\n"
        text += _md_table(
            ["server", *(f"highest rate held, {n} record(s)" for n in sizes)],
            [
                [label, *(_knee(measured["knees"][server].get(n), ladder["max_rate"]) for n in sizes)]
                for server, label in LATENCY_LABELS.items()
            ],
        )
        rows = [
            [
                LATENCY_LABELS[c["server"]],
                str(c["records"]),
                f"{c['rate']}" + (" (extra)" if c.get("extra") else ""),
                f"{c['p50_ms']:.1f}",
                f"{c['p95_ms']:.1f}",
                f"{c['p99_ms']:.1f}",
                f"{c['errors']}/{c['requests']}",
                _step_verdict(c),
                f"{c['send_lag_p99_ms']:.1f}",
                f"{c['load_average_1m']:.1f}",
                _breakdown(c.get("breakdown")),
            ]
            for c in measured["cells"]
        ]
        text += "\n" + _md_table(
            [
                "server", "records/request", "rate /s", "p50 ms", "p95 ms", "p99 ms", "errors", "step",
                "generator lag p99 ms", "load", "mean ms: HTTP+validation / queue / model / outside the server",
            ],
            rows,
        )  # fmt: skip
        for name in LATENCY_GOALS:
            goal = measured["goals"][name]
            if goal["verdict"] != "met":
                where.append(f"- {task}, {LATENCY_GOALS[name]}: {goal['verdict']}: {goal['how']}")
                where += _where_lines(goal)
    text += (
        f"\nOpen loop, Poisson arrivals; each step at most {ladder['seconds']:g} s and {ladder['max_requests']} "
        f"requests, latency from the scheduled send time. Knee search: from {ladder['start']}/s doubling while p99 "
        f"<= {result['p99_limit_ms']:.0f} ms with no error, up to {ladder['max_rate']}/s, then narrowed until the "
        f"missed rate is within {ladder['resolution']}x the held one; a missed rate is run again, up to "
        f"{result.get('runs_per_miss', 3)} runs, and holds when most of them hold. The service and the bare app run "
        "side by side, their searches taking turns. Prediction log on for the service; "
        f"{result['model_rows']} rows of data per task.\n"
    )
    if where:
        text += "\nGoals not met, and where the time went:\n\n" + "\n".join(where) + "\n"
    return text


def _step_verdict(cell: dict[str, Any]) -> str:
    """A latency run's line in the steps table: held or missed, and whether it decided its rate."""
    verdict = "held" if cell["held"] else "missed"
    if cell.get("discarded"):
        return f"{verdict}, did not decide ({cell['discarded']})"
    return f"{verdict}, decided ({cell['runs']})" if cell.get("runs") else verdict


def latency_chart(result: dict[str, Any], path: Path) -> None:
    """p99 against the offered rate for 1-record requests, one panel per task, one line per server."""
    tasks = list(result["tasks"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 5), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for server, label in LATENCY_LABELS.items():
            cells = sorted(
                (c for c in result["tasks"][task]["cells"] if c["server"] == server and c["records"] == 1),
                key=lambda c: c["rate"],
            )
            ax.plot([c["rate"] for c in cells], [max(c["p99_ms"], 0.1) for c in cells], "o-", label=label)
        ax.axhline(result["p99_limit_ms"], color="#999999", linestyle="--", label=f"{result['p99_limit_ms']:.0f} ms")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("offered rate (requests/s, Poisson)")
        ax.set_ylabel("p99 latency (ms)")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_title(f"{task}: 1-record requests, open loop")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)  # below: no point hidden
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _save(fig, path)


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with what lies between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->`` replaced."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the page needs one {start} line followed by one {end} line")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


DOC_BLOCKS: dict[str, tuple[Path, Callable[[dict[str, Any]], str]]] = {
    "latency": (Path("docs") / "performance-latency.md", latency_goals_table),
}
"""Pages with a block a full run rewrites (between ``<!-- bench:NAME:start -->`` and ``end``), and its table."""


def update_doc(name: str, result: dict[str, Any], root: Path) -> Path | None:
    """Rewrite the block of ``name`` in its page under ``root`` with a full run's table; None if it has none."""
    if name not in DOC_BLOCKS:
        return None
    relative, table = DOC_BLOCKS[name]
    page = root / relative
    content = f"{table(result)}\n{machine_line(result)}"
    with atomic_write(page) as tmp:
        tmp.write_text(replace_block(page.read_text(encoding="utf-8"), name, content), encoding="utf-8")
    return page


# --- model call ---


def model_call_markdown(result: dict[str, Any]) -> str:
    """p50/p99 of the model call per estimator x task, fast path vs generic, then the goal and each path."""
    rows = [
        [
            c["task"],
            c["estimator"],
            *(f"{c['fast'][n][q]:.3f}" for n in ("1", "20") for q in ("p50_ms", "p99_ms")),
            *(f"{c['generic'][n][q]:.2f}" for n in ("1", "20") for q in ("p50_ms", "p99_ms")),
            "met" if c["goal_met"] else "missed",
        ]
        for c in result["cells"]
    ]
    text = _md_table(
        [
            "task", "estimator", "fast 1 p50 ms", "fast 1 p99 ms", "fast 20 p50 ms", "fast 20 p99 ms",
            "generic 1 p50 ms", "generic 1 p99 ms", "generic 20 p50 ms", "generic 20 p99 ms",
            f"1 record <= {result['goal_ms']} ms",
        ],
        rows,
    )  # fmt: skip
    goal = result["targets"]["model_call_1_record_p50_ms"]
    worst = goal["worst"]
    text += (
        f"\nModels fitted on {result['model_rows']} rows with each estimator's default hyperparameters; "
        f"{result['repeats']} timed calls per fast cell, a tenth of that per generic cell; one thread.\n"
        f"Goal: 1-record model call <= {goal['limit']} ms p50 for every estimator and task on the fast path: "
        f"{'met' if goal['met'] else 'missed (' + ', '.join(goal['missed']) + ')'}; slowest "
        f"{worst['estimator']} {worst['task']} {worst['p50_ms']:.3f} ms.\n\nPaths:\n\n"
    )
    text += "".join(f"- {c['estimator']} {c['task']}: {c['path']}\n" for c in result["cells"])
    return text


def model_call_chart(result: dict[str, Any], path: Path) -> None:
    """1-record p50 per estimator x task, fast path and generic, log scale, with the goal."""
    cells = result["cells"]
    fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(cells) + 2), 4.5))
    xs = np.arange(len(cells))
    ax.bar(xs - 0.2, [c["fast"]["1"]["p50_ms"] for c in cells], 0.4, label="fast path", color="#55a868")
    ax.bar(xs + 0.2, [c["generic"]["1"]["p50_ms"] for c in cells], 0.4, label="generic", color="#c44e52")
    ax.axhline(result["goal_ms"], color="#999999", linestyle="--", label=f"goal {result['goal_ms']} ms")
    ax.set_xticks(xs, [f"{c['estimator']}\n{c['task']}" for c in cells], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("1-record model call, p50 (ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


# --- drift check ---


def drift_markdown(result: dict[str, Any]) -> str:
    """False-alarm rates, then the detection rate of each shift, then the command's wall time."""
    alarms = [
        [
            str(a["window_rows"]),
            str(a["windows"]),
            f"{a['rate']:.1%}",
            ", ".join(f"{name} {count}" for name, count in a["by_feature"].items()) or "none",
        ]
        for a in result["false_alarms"]
    ]
    text = _md_table(["window rows", "unshifted windows", "false-alarm rate", "features named (windows)"], alarms)
    detections = [
        [
            d["shift"],
            f"`{d['feature']}` {d['label']}",
            f"{d['rate']:.0%}",
            f"{d['flagged_rate']:.0%}",
            f"{d['other_features_per_window']:.2f}",
        ]
        for d in result["detection"]
    ]
    first = result["detection"][0] if result["detection"] else {"windows": 0, "window_rows": 0}
    text += f"\nShifted windows ({first['windows']} per row, {first['window_rows']} rows each):\n\n"
    text += _md_table(
        ["shift", "size", "detected (feature named)", "drift flagged", "other features named per window"], detections
    )
    target, command = result["target"], result["command"]
    text += (
        f"\nReference: {result['reference_rows']} training rows; windows drawn with replacement from "
        f"{result['test_rows']} test rows. Target: at most {target['limit']:.0%} false alarms at "
        f"{target['window_rows']} rows (the smallest window accepted): {target['rate']:.1%}, "
        f"{'met' if target['met'] else 'missed'}.\n"
        f"One check in process: {result['in_process_check_ms']:.0f} ms. `gitops-ml drift` on {command['records']} "
        f"logged records ({command['files']} gzipped JSON Lines files): {command['wall_s']:.1f} s wall.\n"
    )
    return text


def drift_chart(result: dict[str, Any], path: Path) -> None:
    """Detection rate against shift size, one panel per kind of shift, with the false-alarm rate."""
    kinds = list(dict.fromkeys(d["shift"] for d in result["detection"]))
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(3.2 * max(1, len(kinds)), 3.6), squeeze=False)
    alarm = result["target"]["rate"]
    for ax, kind in zip(axes[0], kinds, strict=False):
        rows = [d for d in result["detection"] if d["shift"] == kind]
        ax.plot(range(len(rows)), [d["rate"] for d in rows], "o-", label="detected")
        ax.axhline(alarm, color="#c44e52", linestyle="--", label=f"false alarms {alarm:.1%}")
        ax.set_xticks(range(len(rows)), [d["label"] for d in rows], rotation=30, fontsize=7, ha="right")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{kind} ({rows[0]['feature']})", fontsize=8)
    axes[0][0].set_ylabel("share of windows")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


# --- Dask engine ---


def dask_engine_markdown(result: dict[str, Any]) -> str:
    """Per size and stage: rows per second and peak memory in memory against on the cluster."""
    rows = []
    for size in result["sizes"]:
        local, dask = size["engines"]["local"], size["engines"]["dask"]
        for stage in local:
            rows.append(
                [
                    _rows(size["rows"]),
                    stage,
                    f"{local[stage]['rows_per_s']:,}",
                    f"{dask[stage]['rows_per_s']:,}",
                    f"{local[stage]['client_peak_mb']:.0f}",
                    f"{dask[stage]['client_peak_mb']:.0f}",
                    f"{dask[stage]['worker_peak_mb']:.0f}",
                ]
            )
    text = _md_table(
        [
            "rows",
            "stage",
            "rows/s in memory",
            f"rows/s Dask ({result['workers']} workers)",
            "peak MB in memory",
            "peak MB Dask client",
            "peak MB largest worker",
        ],
        rows,
    )
    return text + (
        f"\nDask: a local cluster of {result['workers']} workers with {result['worker_memory']} each, started by each "
        f"stage (its start-up is in the stage's time); estimator {result['estimator']}.\n"
    )


def dask_engine_chart(result: dict[str, Any], path: Path) -> None:
    """Rows per second and the client's peak memory, per stage, in memory against on the cluster (largest size)."""
    size = result["sizes"][-1]
    local, dask = size["engines"]["local"], size["engines"]["dask"]
    stages = list(local)
    xs = range(len(stages))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for offset, engine, colour in ((-0.2, local, "#4c72b0"), (0.2, dask, "#c44e52")):
        label = "in memory" if engine is local else f"Dask, {result['workers']} workers"
        left.bar([x + offset for x in xs], [engine[s]["rows_per_s"] for s in stages], 0.38, color=colour, label=label)
        right.bar([x + offset for x in xs], [engine[s]["client_peak_mb"] for s in stages], 0.38, color=colour)
    right.bar([x + 0.2 for x in xs], [dask[s]["worker_peak_mb"] for s in stages], 0.12, color="#333333",
              label="largest Dask worker")  # fmt: skip
    for ax, title in ((left, "rows per second"), (right, "peak memory (MB): this process, and a worker")):
        ax.set_xticks(list(xs), stages)
        ax.set_title(f"{title}, {_rows(size['rows'])} rows")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def fork_ci_markdown(result: dict[str, Any]) -> str:
    """Per variant and ci.yml job: wall seconds under act, and the project's total as a share of the template's."""
    rows = []
    for variant, jobs in result["variants"].items():
        for job in result["jobs"]:
            rows.append([variant, job, f"{jobs[job]['wall_s']:.0f}", f"{jobs[job]['load_average_1m']:.2f}"])
        rows.append([variant, "**total**", f"**{jobs['total_s']:.0f}**", ""])
    text = _md_table(["variant", "ci.yml job", "wall s (act)", "load average at start"], rows)
    share = result.get("project_share_of_template")
    if share is not None:
        text += f"\nThe project's CI takes {share:.2f}x the template copy's (goal: at most 0.33x).\n"
    return text


def fork_ci_chart(result: dict[str, Any], path: Path) -> None:
    """Stacked seconds per ci.yml job, one bar per variant."""
    variants = list(result["variants"])
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = [0.0] * len(variants)
    for job, colour in zip(result["jobs"], ("#4c72b0", "#c44e52"), strict=False):
        heights = [result["variants"][v][job]["wall_s"] for v in variants]
        ax.bar(variants, heights, 0.5, bottom=bottom, color=colour, label=f"job {job}")
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("seconds under act (2 cores)")
    ax.set_title("ci.yml on a team-only change")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


# --- registry of benchmarks: name -> (markdown, chart) ---

RENDERERS: dict[str, tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any], Path], None]]] = {
    "pipeline": (pipeline_markdown, pipeline_chart),
    "serving": (serving_markdown, serving_chart),
    "pr_loop": (pr_loop_markdown, pr_loop_chart),
    "prediction_log": (prediction_log_markdown, prediction_log_chart),
    "drift": (drift_markdown, drift_chart),
    "latency": (latency_markdown, latency_chart),
    "model_call": (model_call_markdown, model_call_chart),
    "dask_engine": (dask_engine_markdown, dask_engine_chart),
    "fork_ci": (fork_ci_markdown, fork_ci_chart),
}


def _save(fig: Any, path: Path) -> None:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_outputs(name: str, result: dict[str, Any], out_dir: Path, quick: bool) -> tuple[Path, str]:
    """Write ``<name>[-quick].json``, ``.md`` and ``.png`` under ``out_dir``; return the JSON path and table."""
    stem = f"{name}-quick" if quick else name
    markdown, chart = RENDERERS[name]
    table = markdown(result)
    text = f"{table}\n{machine_line(result)}\n"
    write_json(out_dir / f"{stem}.json", result)
    with atomic_write(out_dir / f"{stem}.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    chart(result, out_dir / f"{stem}.png")
    return out_dir / f"{stem}.json", text
