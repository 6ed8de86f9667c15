"""The fork CI benchmark's report: its table and chart from a result (the benchmark itself runs act for minutes)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import machine

from benchmarks import fork_ci, report


def jobs(test_s: float, pipeline_s: float) -> dict:
    return {
        "test": {"wall_s": test_s, "load_average_1m": 0.5},
        "pipeline": {"wall_s": pipeline_s, "load_average_1m": 0.7},
        "total_s": test_s + pipeline_s,
    }


def test_the_table_gives_each_jobs_time_and_the_projects_share(tmp_path: Path) -> None:
    result = {
        "name": "fork_ci", "quick": False, "finished": "now", "machine": machine(),
        "jobs": list(fork_ci.JOBS),
        "variants": {"template": jobs(1800.0, 240.0), "project": jobs(300.0, 240.0)},
        "project_share_of_template": round(540 / 2040, 3),  # 0.265
    }  # fmt: skip
    path, table = report.write_outputs("fork_ci", result, tmp_path, quick=False)
    assert "| project | test | 300 |" in table
    assert "| template | **total** | **2040** |" in table
    assert "0.27x the template copy's" in table
    assert path.name == "fork_ci.json"
    assert (tmp_path / "fork_ci.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_of_the_project_alone_has_no_share() -> None:
    result = {"jobs": list(fork_ci.JOBS), "variants": {"project": jobs(300.0, 240.0)}}
    assert "share" not in report.fork_ci_markdown(result).lower()
    assert "the template copy's" not in report.fork_ci_markdown(result)
