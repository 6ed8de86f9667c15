"""What a change did, base against head: params, data, code and metrics, each with a verdict.

Pure functions of the files the pipeline wrote (``params.yaml``, ``reports/data_summary.json``,
``reports/metrics.json``, ``reports/metrics_ci.json``, ``reports/predictions.parquet``) plus ``git diff``
for the code. The release verdict comes from :mod:`gitops_ml.gitops.gate`, the same code the merge
workflow runs.

"Within noise" per metric: when base and head scored the same test rows, a paired bootstrap of the
difference (the same resampled rows for both models); the change is ``unchanged`` when that interval
contains 0. When the test sets differ (the data or the split changed), the two unpaired intervals of
``metrics_ci.json`` are compared instead: overlapping intervals mean ``unchanged``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gitops_ml import paths
from gitops_ml.config import BootstrapParams, GateParams, SchemaParams
from gitops_ml.errors import CompareError
from gitops_ml.gitops.gate import GateDecision, better_by, decide, signed_lower_bound
from gitops_ml.model_metrics import Outcome, bootstrap_metrics, confidence_intervals, higher_is_better, metric_names
from gitops_ml.tasks import DEFAULT_TASK, Task
from gitops_ml.values import finite_or_none, flatten
from gitops_ml.vcs import commit_of, git_stdout

Verdict = Literal["better", "worse", "unchanged", "n/a"]


def _show(value: Any) -> str | None:
    return None if value is _MISSING else json.dumps(value, sort_keys=True, default=str)


_MISSING = object()


def params_diff(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """Changed keys only, sorted: ``{"key", "base", "head"}`` with values as JSON text (None: key absent)."""
    flat_base, flat_head = flatten(base), flatten(head)
    changes = []
    for key in sorted(flat_base.keys() | flat_head.keys()):
        old, new = flat_base.get(key, _MISSING), flat_head.get(key, _MISSING)
        if old is _MISSING or new is _MISSING or old != new or type(old) is not type(new):
            changes.append({"key": key, "base": _show(old), "head": _show(new)})
    return changes


_TASK_FACTS: dict[Task, dict[str, Callable[[Any], Any]]] = {
    Task.BINARY: {"positives": int, "positive_rate": float},
    Task.MULTICLASS: {"class_rows": lambda rows: {str(name): int(count) for name, count in rows.items()}},
    Task.REGRESSION: {"target_min": float, "target_mean": float, "target_max": float},
}
"""Per task, the keys of ``reports/data_summary.json`` the report shows beside the hash and the row counts."""


def data_facts(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the report shows of one side's data: its task, hash, labelled and unlabelled rows, and per task the
    class balance (binary positives, multiclass rows per class) or the target's range (regression).

    A summary written before tasks (no ``task``) is binary's; one written before unlabelled rows were counted has
    ``unlabelled_rows`` None. A summary without its task's keys raises :class:`CompareError`.
    """
    name = summary.get("task", DEFAULT_TASK.value)
    try:
        task = Task(name)
        facts: dict[str, Any] = {"task": task.value, "md5": str(summary["md5"]), "rows": int(summary["rows"])}
        unlabelled = summary.get("unlabelled_rows")
        facts["unlabelled_rows"] = None if unlabelled is None else int(unlabelled)
        facts |= {key: convert(summary[key]) for key, convert in _TASK_FACTS[task].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CompareError(
            f"{paths.DATA_SUMMARY} of task {name!r} is not readable ({type(exc).__name__}: {exc}); rerun the "
            "validate stage (`dvc repro`)"
        ) from None
    return facts


def _same_facts(base: dict[str, Any] | None, head: dict[str, Any]) -> bool:
    """A fact the base's summary does not record (unlabelled rows, before they were counted) is no change."""
    if base is None or base.keys() != head.keys():
        return False
    return all(base[key] is None or base[key] == value for key, value in head.items())


def data_diff(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> dict[str, Any]:
    """The facts of the data on each side (:func:`data_facts`), its schema, and what changed between them."""
    base_facts, head_facts = (data_facts(base) if base else None), data_facts(head)
    base_cols: dict[str, str] = dict(base.get("columns", {})) if base else {}
    head_cols: dict[str, str] = dict(head.get("columns", {}))
    return {
        "changed": not _same_facts(base_facts, head_facts) or base_cols != head_cols,
        "base": base_facts,
        "head": head_facts,
        "columns_added": sorted(head_cols.keys() - base_cols.keys()) if base else [],
        "columns_removed": sorted(base_cols.keys() - head_cols.keys()) if base else [],
        "type_changes": [
            {"column": name, "base": base_cols[name], "head": head_cols[name]}
            for name in sorted(base_cols.keys() & head_cols.keys())
            if base_cols[name] != head_cols[name]
        ],
    }


def resolve_ref(repo: Path, ref: str) -> str:
    """The commit SHA of ``ref``; a clear error when it does not exist (e.g. not fetched in CI)."""
    commit = commit_of(repo, ref)
    if commit is None:
        raise CompareError(
            f"BASE '{ref}' is not a commit in {repo}: pass an existing branch, tag or SHA "
            "(make report BASE=<ref>); in CI, fetch it first (checkout with fetch-depth: 0)"
        )
    return commit


def code_changes(repo: Path, base_ref: str, under: str = "src") -> list[dict[str, str]]:
    """Files under ``under/`` that differ between ``base_ref`` and the working tree (untracked ones included)."""
    changes = []
    for line in git_stdout("diff", "--name-status", "--no-renames", base_ref, "--", under, cwd=repo).splitlines():
        status, _, path = line.partition("\t")
        changes.append({"status": {"A": "added", "D": "deleted"}.get(status[:1], "modified"), "path": path})
    for path in git_stdout("ls-files", "--others", "--exclude-standard", "--", under, cwd=repo).splitlines():
        changes.append({"status": "added", "path": path})
    return sorted(changes, key=lambda c: c["path"])


@dataclass(frozen=True)
class Side:
    """One side of the comparison: what its pipeline run wrote."""

    metrics: dict[str, Any]
    intervals: dict[str, dict[str, float | None]]  # metrics_ci.json "metrics"
    outcome: Outcome  # the test rows' targets and the model's predictions (predictions.parquet)
    test_set_id: str  # hash of the test rows (from dvc.lock); equal ids mean a paired comparison is valid


def _verdict(name: str, delta: float | None, low: float | None, high: float | None) -> Verdict:
    if delta is None:
        return "n/a"
    if delta == 0 or (low is not None and high is not None and low <= 0 <= high):
        return "unchanged"
    return "better" if better_by(name, delta, 0.0) > 0 else "worse"


def _overlap(a: Mapping[str, float | None], b: Mapping[str, float | None]) -> bool | None:
    a_low, a_high, b_low, b_high = a.get("low"), a.get("high"), b.get("low"), b.get("high")
    if a_low is None or a_high is None or b_low is None or b_high is None:
        return None
    return a_low <= b_high and b_low <= a_high


def can_pair(base: Side, head: Side) -> bool:
    """True when both models scored the same rows of the same task at the same threshold (a paired bootstrap is
    valid)."""
    a, b = base.outcome, head.outcome
    return (
        base.test_set_id == head.test_set_id
        and a.task is b.task
        and a.predicted.shape == b.predicted.shape
        and bool(np.array_equal(a.y, b.y))
        and base.metrics.get("threshold") == head.metrics.get("threshold")
    )


def compare_metrics(base: Side, head: Side, boot: BootstrapParams) -> tuple[list[dict[str, Any]], bool]:
    """One row per metric ``{name, base, head, delta, higher_is_better, low, high, verdict}`` and whether paired.

    ``low``/``high`` bound the delta (paired) or are None (unpaired: the verdict compares the two sides'
    own intervals). A base model of another task has no comparable values (a binary and a multiclass log loss
    are not the same measure): its column is None and every verdict n/a.
    """
    paired = can_pair(base, head)
    comparable = base.outcome.task is head.outcome.task
    delta_ci: dict[str, dict[str, float]] = {}
    if paired:
        samples = bootstrap_metrics(head.outcome, boot.n_resamples, boot.seed, other=base.outcome)
        delta_ci = confidence_intervals(samples, boot.confidence)
    rows = []
    for name in metric_names(head.outcome.task):
        old = finite_or_none(base.metrics.get(name)) if comparable else None
        new = finite_or_none(head.metrics.get(name))
        delta = None if old is None or new is None else new - old
        low = high = None
        if paired:
            bounds = delta_ci.get(name, {})
            low, high = finite_or_none(bounds.get("low")), finite_or_none(bounds.get("high"))
            verdict = _verdict(name, delta, low, high)
        else:
            overlap = _overlap(base.intervals.get(name, {}), head.intervals.get(name, {}))
            verdict = _verdict(name, delta, None, None)
            if verdict in ("better", "worse") and overlap is not False:
                verdict = "unchanged"
        rows.append(
            {
                "name": name,
                "base": old,
                "head": new,
                "delta": delta,
                "higher_is_better": higher_is_better(name, head.outcome.task),
                "low": low,
                "high": high,
                "verdict": verdict,
            }
        )
    return rows, paired


def improvement_lower_bound(rows: list[dict[str, Any]], primary: str) -> float | None:
    """Lower bound of the paired improvement of ``primary``, signed so that > 0 is better (None if unpaired)."""
    row = next((r for r in rows if r["name"] == primary), None)
    if row is None:
        return None
    return signed_lower_bound(primary, row["low"], row["high"])


def merge_verdict(
    head_metrics: Mapping[str, Any],
    base_metrics: Mapping[str, Any],
    rules: GateParams,
    lower_bound: float | None,
    contract_changes: list[str] | None = None,
    task: Task = DEFAULT_TASK,
) -> GateDecision:
    """The release gate's decision with the head as candidate and the base as champion.

    With ``contract_changes`` (the data contract differs from the base's), the head starts a new model line and,
    as the release gate does, is judged on the floors only.
    """
    names = metric_names(task)
    pick: dict[str, float | None] = {name: finite_or_none(head_metrics.get(name)) for name in names}
    if contract_changes:
        new_line = f"new model line: the data contract changed since the base ({'; '.join(contract_changes)})"
        return decide(pick, None, rules, None, new_line)
    champion: dict[str, float | None] = {name: finite_or_none(base_metrics.get(name)) for name in names}
    return decide(pick, champion, rules, improvement_lower_bound=lower_bound)


def base_contract_changes(base_params: Mapping[str, Any], head_schema: SchemaParams) -> list[str]:
    """How the head's data contract differs from the base's ``params.yaml`` (an unreadable base schema counts)."""
    from pydantic import ValidationError

    from gitops_ml.gitops.contract import contract_changes

    try:
        base_schema = SchemaParams.model_validate(base_params.get("schema"))
    except ValidationError:
        return ["the base's contract (schema in its params.yaml) cannot be read by this version"]
    return contract_changes(base_schema, head_schema)
