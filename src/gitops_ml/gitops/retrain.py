"""Retraining as a pull request: append a new labelled window to the data, version it, retrain, propose the result.

``make retrain NEW=path`` (and ``retrain.yml``) run :func:`retrain`:

1. **Check** before writing anything: the window (a local file or an fsspec URL, CSV or parquet) meets the data
   contract row by row, and the data with it still meets it as a whole (size, class balance); it is not already in
   the data; the branch name is free; ``data.dvc`` and ``dvc.lock`` have no uncommitted edits; and, to open a pull
   request, a DVC remote is configured (CI could not get the data otherwise). Any failure: one message, nothing
   written.
2. **Append** the window unchanged as ``data/windows/<date>-<name>.<ext>`` (beside ``data.path``; the validate stage
   reads the data and then every window, by name: :func:`gitops_ml.pipeline.interface.data_files`).
3. **Version and retrain**: ``dvc add`` the data folder, ``dvc repro``, ``dvc push`` when a remote is configured
   (the data and the new model, which the release gate pulls). If any of these fails, the window is removed and
   ``data.dvc``/``dvc.lock`` are restored, so the checkout is as it was.
4. **Propose**: commit ``data.dvc`` and ``dvc.lock`` on a new branch ``retrain/<date>-<name>`` and, with
   ``open_pr``, push it and open a pull request (:mod:`gitops_ml.gitops.pull_request`) saying which window was
   added, the rows and the target before and after (:class:`TargetFacts`, by task: positives and the positive rate,
   the rows of each class, or the target's mean and range) and the retrained model's metrics. Its ``ci`` run then
   compares it with main in the usual report, and merging releases through the gate.

The target's facts are the validate stage's own (``reports/data_summary.json``): read once before the window is
copied (``dvc repro validate``, a no-op when the outputs are current) and once after the retraining, so they count
exactly what the pipeline trains on.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gitops_ml import paths
from gitops_ml.config import Params, SchemaParams
from gitops_ml.errors import DataContractError, ProjectError
from gitops_ml.gitops.github_api import GitHub
from gitops_ml.gitops.markdown import code_span
from gitops_ml.gitops.pull_request import Opened, Proposal, check_branch_name, commit_on_branch, current_branch, propose
from gitops_ml.io import atomic_write, read_json
from gitops_ml.model_metrics import all_metric_names
from gitops_ml.tasks import Task
from gitops_ml.vcs import file_md5, git

BRANCH_PREFIX = "retrain/"
COMMITTED = ("data.dvc", "dvc.lock")
_NAME = re.compile(r"[^a-z0-9]+")


class RetrainError(ProjectError, RuntimeError):
    """The window cannot be added or the retrained model cannot be proposed; the message says why and what to do."""


@dataclass(frozen=True)
class Appended:
    """The window as it was added to the data, and the data's size before and after (the window check's count)."""

    source: str
    path: Path
    md5: str
    rows: int
    rows_before: int

    @property
    def rows_after(self) -> int:
        return self.rows_before + self.rows


@dataclass(frozen=True)
class TargetFacts:
    """The labelled rows of a data set and what its target holds, by task, as the validate stage's data summary
    (``reports/data_summary.json``) says: binary ``positives``; multiclass ``class_rows`` (class -> rows, in
    ``schema.classes`` order); regression the target's mean, smallest and largest value. None: not known."""

    rows: int | None
    positives: int | None = None
    class_rows: dict[str, int] | None = None
    target_mean: float | None = None
    target_min: float | None = None
    target_max: float | None = None

    @classmethod
    def of(cls, summary: Mapping[str, Any], schema: SchemaParams) -> TargetFacts:
        """The facts of a data summary (a key it lacks, or a value of the wrong kind, is not known)."""
        rows = _count(summary.get("rows"))
        if schema.task is Task.BINARY:
            return cls(rows, positives=_count(summary.get("positives")))
        if schema.task is Task.MULTICLASS:
            given = summary.get("class_rows")
            if not isinstance(given, Mapping):
                return cls(rows)
            counts = {str(label): _count(given.get(str(label), 0)) for label in schema.class_labels}
            known = {label: count for label, count in counts.items() if count is not None}
            return cls(rows, class_rows=known if len(known) == len(counts) else None)
        return cls(rows, target_mean=_number(summary.get("target_mean")), target_min=_number(summary.get("target_min")),
                   target_max=_number(summary.get("target_max")))  # fmt: skip

    def beyond(self, before: TargetFacts) -> TargetFacts:
        """The facts of the rows this data has beyond ``before`` (the window appended to it): the counts and the
        mean follow from the two sides; the range does not (None)."""
        if self.rows is None or before.rows is None:
            return TargetFacts(None)
        rows = self.rows - before.rows
        positives = _minus(self.positives, before.positives)
        class_rows = None
        if self.class_rows is not None and before.class_rows is not None:
            class_rows = {label: count - before.class_rows.get(label, 0) for label, count in self.class_rows.items()}
        mean = None
        if self.target_mean is not None and before.target_mean is not None and rows > 0:
            mean = (self.target_mean * self.rows - before.target_mean * before.rows) / rows
        return TargetFacts(rows, positives, class_rows, mean)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _minus(after: int | None, before: int | None) -> int | None:
    return after - before if after is not None and before is not None else None


@dataclass(frozen=True)
class Retrained:
    """What :func:`retrain` did: the window added, the data's target facts before and after, the branch and commit,
    the metrics, and the pull request."""

    appended: Appended
    branch: str
    base: str
    commit: str
    metrics: dict[str, Any]
    pushed_data: bool
    task: Task = Task.BINARY
    before: TargetFacts = TargetFacts(None)
    after: TargetFacts = TargetFacts(None)
    opened: Opened | None = None


def window_name(source: str, name: str | None = None) -> str:
    """A short lower-case name for the window: ``name``, else the file's name (``May 2026.csv`` -> ``may-2026``)."""
    stem = name if name else Path(shown_source(source).rstrip("/").rsplit("/", 1)[-1]).stem
    clean = _NAME.sub("-", stem.lower()).strip("-")[:60].strip("-")
    if not clean:
        raise RetrainError(f"cannot make a window name from {name or source!r}: pass --name (letters and digits)")
    return clean


def shown_source(source: str) -> str:
    """``source`` as commits and pull requests may show it: no user, password, query or fragment (a signed URL's
    query is a credential)."""
    if "://" not in source:
        return source
    parts = urlsplit(source)
    host = parts.hostname or ""
    host += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _suffix(source: str) -> str:
    from gitops_ml.pipeline.interface import data_file_suffixes

    suffix = Path(shown_source(source).rstrip("/")).suffix.lower()
    if suffix not in data_file_suffixes():
        raise RetrainError(
            f"the new window {shown_source(source)} is not a CSV or parquet file (its name must end in .csv, "
            ".parquet or .pq)"
        )
    return suffix


@contextmanager
def local_copy(source: str) -> Iterator[Path]:
    """``source`` as a local file: a path as is, an fsspec URL (``s3://``, ``gs://``, ``https://``...) downloaded."""
    if "://" not in source:
        path = Path(source)
        if not path.is_file():
            raise RetrainError(f"the new window {source} does not exist (NEW= must name a CSV or parquet file)")
        yield path
        return
    from fsspec.core import url_to_fs

    with tempfile.TemporaryDirectory(prefix="gitops-ml-window-") as folder:
        target = Path(folder) / f"window{_suffix(source)}"
        try:
            fs, location = url_to_fs(source)
            fs.get_file(location, str(target))
        except Exception as exc:  # fsspec drivers raise their own error types (ImportError for a missing driver)
            raise RetrainError(
                f"cannot read the new window {shown_source(source)}: {type(exc).__name__}: {exc}"
            ) from None
        yield target


def append_window(
    root: Path,
    params: Params,
    source: str,
    name: str,
    day: dt.date,
    before_copy: Callable[[], object] | None = None,
) -> Appended:
    """Check the window (nothing written on failure) and copy it, unchanged, to ``data/windows/<day>-<name>.<ext>``.

    ``before_copy`` runs once the window passed its checks, before it is copied (to read the data as it was).
    """
    from gitops_ml.pipeline.interface import check_window, data_files, windows_dir

    raw = root / params.data.path
    if not raw.is_file():
        raise RetrainError(f"{params.data.path} is missing: run `make data` first (the window is added to that data)")
    suffix = _suffix(source)
    shown = shown_source(source)
    target = windows_dir(raw) / f"{day.isoformat()}-{name}{suffix}"
    if target.exists():
        raise RetrainError(f"{target.relative_to(root)} exists already: pass another --name (NAME=...) for this window")
    with local_copy(source) as window:
        digest = file_md5(window)
        for existing in data_files(raw):
            if file_md5(existing) == digest:
                raise RetrainError(f"the new window {shown} is already in the data as {existing.relative_to(root)}")
        try:
            facts = check_window(raw, window, params.schema, shown)
        except DataContractError as exc:
            raise RetrainError(f"{exc}\nNothing was written.") from None
        if before_copy is not None:
            before_copy()
        with atomic_write(target) as tmp:
            shutil.copyfile(window, tmp)
    return Appended(shown, target.relative_to(root), digest, facts.rows, facts.rows_before)


def _run(root: Path, what: str, *cmd: str) -> None:
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-3000:]
        raise RetrainError(f"{what} failed (`{' '.join(cmd)}`):\n{output}")


def _dirty(root: Path, files: tuple[str, ...]) -> list[str]:
    result = git("status", "--porcelain", "--", *files, cwd=root)
    if result.returncode != 0:
        raise RetrainError(f"{root} is not a git repository: {result.stderr.strip()}")
    return [line[3:] for line in result.stdout.splitlines()]


def _undo(root: Path, appended: Appended) -> None:
    """Put the checkout back as it was before :func:`append_window`: no window, committed data.dvc and dvc.lock."""
    (root / appended.path).unlink(missing_ok=True)
    git("checkout", "HEAD", "--", *COMMITTED, cwd=root)


def data_facts(root: Path, schema: SchemaParams) -> TargetFacts:
    """The target facts of the data as the pipeline last validated it (``reports/data_summary.json``)."""
    try:
        summary = read_json(root / paths.DATA_SUMMARY)
    except (OSError, ValueError) as exc:
        raise RetrainError(f"cannot read {paths.DATA_SUMMARY} ({exc}): run `make repro` and retry") from None
    return TargetFacts.of(summary if isinstance(summary, dict) else {}, schema)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


def _shown(value: int | float | None, form: str = "") -> str:
    return "n/a" if value is None else format(value, form)


def _rate(part: int | None, rows: int | None) -> str:
    return f"{part / rows:.4f}" if part is not None and rows else "n/a"


SIDES = ("data before", "new window", "data after")


def target_table(task: Task, before: TargetFacts, window: TargetFacts, after: TargetFacts) -> list[str]:
    """The rows and target of the data before, the new window and the data after, as a Markdown table by task."""
    sides = list(zip(SIDES, (before, window, after), strict=True))
    if task is Task.BINARY:
        return [
            "| | rows | positives | positive rate |",
            "|---|---:|---:|---:|",
            *(
                f"| {side} | {_shown(f.rows)} | {_shown(f.positives)} | {_rate(f.positives, f.rows)} |"
                for side, f in sides
            ),
        ]
    if task is Task.REGRESSION:

        def span(f: TargetFacts) -> str:
            known = f.target_min is not None and f.target_max is not None
            return f"{f.target_min:.6g} to {f.target_max:.6g}" if known else "n/a"

        return [
            "| | rows | target mean | target range |",
            "|---|---:|---:|---:|",
            *(f"| {side} | {_shown(f.rows)} | {_shown(f.target_mean, '.6g')} | {span(f)} |" for side, f in sides),
        ]
    labels = list((after.class_rows or before.class_rows or {}).keys())

    def share(f: TargetFacts, label: str) -> str:
        count = None if f.class_rows is None else f.class_rows.get(label)
        return "n/a" if count is None else f"{count} ({_rate(count, f.rows)})"

    return [
        f"| | {' | '.join(SIDES)} |",
        "|---|---:|---:|---:|",
        f"| rows | {' | '.join(_shown(f.rows) for _, f in sides)} |",
        *(f"| class {code_span(label)} | {' | '.join(share(f, label) for _, f in sides)} |" for label in labels),
    ]


def pull_request_body(retrained: Retrained, issue: int | None = None) -> str:
    """What the retraining pull request says: the window, the rows and target by task, the metrics, what happens
    next."""
    a = retrained.appended
    window = retrained.after.beyond(retrained.before)
    rows = target_table(retrained.task, retrained.before, window, retrained.after)
    metrics = ["| metric | retrained model |", "|---|---:|"] + [
        f"| {name} | {_fmt(retrained.metrics.get(name))} |" for name in all_metric_names() if name in retrained.metrics
    ]
    stored = "pushed to the DVC remote" if retrained.pushed_data else "**not pushed: no DVC remote is configured**"
    note = {
        Task.BINARY: "",
        Task.MULTICLASS: " Each class's rows, then its share of the rows.",
        Task.REGRESSION: " The window's own range does not follow from the two summaries (n/a).",
    }[retrained.task]
    parts = [
        "## Retraining on a new labelled window",
        "",
        f"Adds the window {code_span(a.source)} to the data as {code_span(str(a.path))} (md5 {code_span(a.md5)}), "
        f"tracked by `data.dvc` and "
        f"{stored}, and retrains the model on the whole data (`dvc.lock`).",
        "",
        f"Labelled rows as the validate stage counts them (`{paths.DATA_SUMMARY}`).{note}",
        "",
        *rows,
        "",
        "Metrics of the retrained model on its own test split:",
        "",
        *metrics,
        "",
        "The `ci` run of this pull request compares it with the base branch in the model report comment; merging "
        "releases it through the gate as usual (docs/retraining.md).",
    ]
    if issue:
        parts += ["", f"Retraining for the drift issue #{issue}."]
    return "\n".join(parts) + "\n"


def retrain(
    root: Path,
    params: Params,
    source: str,
    name: str | None = None,
    day: dt.date | None = None,
    open_pr: bool = False,
    api: GitHub | None = None,
    token: str | None = None,
    issue: int | None = None,
    base: str | None = None,
    say: Callable[[str], None] = print,
) -> Retrained:
    """Add the window at ``source`` to the data and retrain; commit on a new branch; with ``open_pr``, open a PR.

    ``api`` (and ``token`` for the push) are needed with ``open_pr``. See the module's docstring for the steps.
    """
    from gitops_ml.gitops.dvc_settings import read_dvc_settings

    day = day or dt.datetime.now(dt.UTC).date()
    label = window_name(source, name)
    branch = check_branch_name(root, f"{BRANCH_PREFIX}{day.isoformat()}-{label}")
    base = base or current_branch(root)
    if not base:
        raise RetrainError("HEAD is detached: check out the branch to retrain on (or pass --base)")
    if dirty := _dirty(root, COMMITTED):
        raise RetrainError(f"{', '.join(dirty)} has uncommitted changes: commit or discard them first")
    remote = read_dvc_settings(root).remote
    if open_pr and (api is None or remote is None):
        missing = "a DVC remote (DVC_REMOTE_URL in CI)" if remote is None else "the GitHub API (GITHUB_TOKEN)"
        raise RetrainError(f"opening a pull request needs {missing}: its ci run must be able to pull the new data")
    facts: list[TargetFacts] = []

    def read_data_before() -> None:  # the data's facts before the window: validate's own (a no-op when current)
        say("reading the data before the window (dvc repro validate)")
        try:
            _run(root, "validating the data before the window", "dvc", "repro", "validate")
        finally:
            git("checkout", "HEAD", "--", *COMMITTED, cwd=root)  # a stale lock stays as committed until the retrain
        facts.append(data_facts(root, params.schema))

    appended = append_window(root, params, source, label, day, before_copy=read_data_before)
    say(f"added {appended.path} ({appended.rows} rows): the data now has {appended.rows_after} rows")
    try:
        _run(root, "dvc add", "dvc", "add", str(Path(params.data.path).parent))
        say("retraining (dvc repro)")
        _run(root, "the pipeline", "dvc", "repro")
        if remote:
            _run(root, "dvc push", "dvc", "push")
            say(f"pushed the data and the model to the DVC remote {remote[0]}")
        else:
            say("no DVC remote is configured: the new data is only in this machine's DVC cache (dvc push it later)")
    except ProjectError:
        _undo(root, appended)
        raise
    metrics = read_json(root / paths.METRICS)
    after = data_facts(root, params.schema)
    message = f"Retrain on the window {label} (+{appended.rows} rows)\n\nAdds {appended.path} from {appended.source}.\n"
    commit = commit_on_branch(root, branch, COMMITTED, message)
    say(f"committed {' and '.join(COMMITTED)} on {branch} ({commit[:12]})")
    retrained = Retrained(appended, branch, base, commit, metrics, remote is not None, params.task, facts[0], after)
    if not open_pr:
        say(f"push it and open a pull request into {base}: git push origin {branch}")
        return retrained
    assert api is not None  # checked above
    title = f"Retrain on the window {label} (+{appended.rows} rows)"
    proposal = Proposal(branch, base, title, pull_request_body(retrained, issue))
    opened = propose(root, api, proposal, token=token, say=say)
    return Retrained(appended, branch, base, commit, metrics, True, params.task, facts[0], after, opened)
