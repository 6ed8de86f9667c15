"""Shared pieces of the benchmarks: temporary project copies, measured commands, machine facts.

Every benchmark runs in a temporary copy of this working tree under ``benchmarks/work/`` (a new git repository
with its own DVC cache), so the user's checkout, data and MLflow store are never touched.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from tests.support.fixture_project import copy_with_fixture

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent
SAMPLE_INTERVAL_S = 0.05


class BenchError(RuntimeError):
    """A benchmark step failed; the message holds the command and its output."""


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for commands in a project copy: this venv first on PATH, no telemetry, no outside MLflow."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GIT_", "DVC_", "BENTOML_"))}
    env |= {
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "ITERATIVE_DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    return env | (extra or {})


def sh(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``cmd`` in ``cwd`` and return its stdout; raise :class:`BenchError` with both streams on failure."""
    result = subprocess.run(list(cmd), cwd=cwd, env=env or bench_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} exited {result.returncode} in {cwd}\nstdout:\n{result.stdout[-3000:]}\n"
            f"stderr:\n{result.stderr[-3000:]}"
        )
    return result.stdout


def working_tree_files() -> list[str]:
    """Files of this checkout that are tracked or not ignored: the template as the user has it now."""
    out = sh(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT, env=dict(os.environ))
    return [name for name in out.split("\0") if name and (ROOT / name).is_file()]


def copy_project(dest: Path, cache_dir: Path) -> Path:
    """A new git repository at ``dest`` holding the working tree's files (committed on ``main``).

    The benchmarks measure the template on the built-in sample, so the fixture project's params.yaml, data.dvc
    and dvc.lock replace the repository's own (a fork's data may be anything). Its DVC cache is ``cache_dir``,
    so runs on the same inputs can share the run-cache when that is wanted.
    """
    if dest.exists():
        shutil.rmtree(dest)
    copy_with_fixture([name for name in working_tree_files() if not name.startswith("benchmarks/")], dest)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh(["dvc", "cache", "dir", "--local", str(cache_dir)], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "commit", "-qm", "template"], dest)
    return dest


CODE_PATHS = ("src/", "bentofile.yaml", "pyproject.toml", "uv.lock")
"""What :func:`sync_code` brings up to date in a reused project copy: the package and what the bento is built from
(the bento pins the packages of the model's estimator and scoring engine from ``uv.lock``)."""


def sync_code(project: Path) -> bool:
    """Bring the code of a project copy made earlier up to date with the working tree, and commit it if it changed.

    A benchmark that reuses a trained project copy (to skip training) would otherwise build its bento from the
    code as it was when the copy was made. Data, params and the trained model stay as they are. True if it changed.
    """
    wanted = {name for name in working_tree_files() if name.startswith(CODE_PATHS)}
    present = {
        str(path.relative_to(project))
        for root in CODE_PATHS
        for path in ([project / root] if not root.endswith("/") else (project / root).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    changed = False
    for name in sorted(present - wanted):
        (project / name).unlink()
        changed = True
    for name in sorted(wanted):
        source, target = ROOT / name, project / name
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            changed = True
    if changed:
        sh(["git", "add", "-A", *CODE_PATHS], project)
        sh(["git", "commit", "-qm", "code from the working tree"], project)
    return changed


def use_sample_rows(project: Path, rows: int) -> None:
    """Replace the project's data with ``rows`` rows of the sample, tracked by DVC and committed."""
    sh(["gitops-ml", "sample-data", "--rows", str(rows)], project)
    sh(["dvc", "add", "data"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", f"sample data: {rows} rows"], project)


@dataclass
class ProcessSample:
    """What one process of a measured tree did: when it was first and last seen and its largest RSS."""

    cmdline: str
    cwd: str
    first_s: float
    last_s: float
    peak_rss: int


@dataclass
class Measured:
    """Wall time and peak memory of one command, with the processes seen under it."""

    wall_s: float
    peak_rss_bytes: int
    """Largest sum of RSS over the process tree at any sample."""
    cpu_s: float = 0.0
    """User + system CPU time of the whole tree (from the kernel's accounting of waited-for children)."""
    processes: dict[int, ProcessSample] = field(default_factory=dict)
    stdout: str = ""


def measure(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout_s: float = 3600) -> Measured:
    """Run ``cmd``, sampling its process tree every 50 ms: wall time, peak tree RSS, each process's peak RSS.

    Peak memory comes from sampling, so a spike shorter than the interval can be missed; the interval is
    short compared with every stage measured here.
    """
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=env or bench_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    processes: dict[int, ProcessSample] = {}
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            now = time.perf_counter() - start
            total = 0
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                if not root.is_running():
                    break
                continue  # a child exited while the tree was being listed: sample again at once
            for p in tree:
                try:
                    rss = p.memory_info().rss
                    # Read every time: a child first seen between fork and exec still shows its parent's command.
                    cmdline, cwd = " ".join(p.cmdline()), p.cwd()
                    seen = processes.get(p.pid)
                    if seen is None:
                        seen = processes[p.pid] = ProcessSample(cmdline, cwd, now, now, rss)
                    if cmdline:  # an exited, not yet reaped process (a zombie) has none: keep what was seen
                        seen.cmdline, seen.cwd = cmdline, cwd
                    seen.last_s, seen.peak_rss = now, max(seen.peak_rss, rss)
                    total += rss
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
            peak[0] = max(peak[0], total)
            done.wait(SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
        raise BenchError(f"{' '.join(cmd)} took longer than {timeout_s} s and was stopped") from None
    finally:
        done.set()
        sampler.join()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {proc.returncode} in {cwd}\noutput:\n{stdout[-4000:]}")
    return Measured(wall, peak[0], cpu, processes, stdout)


def machine() -> dict[str, object]:
    """Facts about this machine and its load when the benchmark ran."""
    cpu_model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu_model,
        "logical_cpus": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def load_average() -> float:
    """The 1-minute load average now (how busy the shared machine was)."""
    return round(os.getloadavg()[0], 2)
