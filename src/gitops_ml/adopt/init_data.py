"""``gitops-ml init-data FILE --target COL``: adopt a team's own CSV or parquet file as the project's data.

One command replaces the ~120 hand-written lines a fork used to need. It reads the file the way ``validate`` will,
infers the task and the contract (:mod:`gitops_ml.adopt.infer_contract` holds every rule), rewrites the
``project:``, ``data:`` (its path; ``data.sample`` goes, as the data is no longer the sample) and ``schema:``
sections and the task's ``gate.primary_metric``, ``gate.guards`` and ``gate.floors`` of ``params.yaml`` (every
comment and every other section kept, :mod:`gitops_ml.params_yaml`), checks the data against the new contract
exactly as ``validate`` will, and only then writes: ``data/`` holds the file alone (the built-in sample leaves the
pipeline's path), params.yaml, the Python distribution's name (``project.name``, in pyproject.toml and uv.lock:
:mod:`gitops_ml.template.naming`), and ``dvc add data`` records it in ``data.dvc``. Any failure before that point
writes nothing; a failure while writing puts ``data/``, ``params.yaml``, ``pyproject.toml``, ``uv.lock``,
``data.dvc`` and ``.gitignore`` back as they were.

Run a second time (own data already adopted, or other files in ``data/``), it needs ``--force``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_ml import params_yaml
from gitops_ml.adopt.infer_contract import InferredContract, infer_contract
from gitops_ml.config import ColumnType, Params, load_params, parse_params
from gitops_ml.errors import DataContractError, InitDataError
from gitops_ml.io import atomic_write, restorable
from gitops_ml.pipeline.interface import (
    check_frame,
    data_file_suffixes,
    estimator_for_task,
    read_table,
    write_dvc_plots,
)
from gitops_ml.tasks import Task
from gitops_ml.template.naming import LOCK, PYPROJECT, README, TEMPLATE_DISTRIBUTION, Renamed, renamed, write_renamed

DATA_DIR = Path("data")
SUFFIXES = data_file_suffixes()
# Files `dvc add data` rewrites, restored if adopting fails half-way.
DVC_FILES = (Path("data.dvc"), Path(".gitignore"))
TODO = "TODO: set project.{} in params.yaml"


@dataclass(frozen=True)
class Adopted:
    """What init-data did: the data's new path, the contract and the params it wrote, the files it replaced."""

    data_path: Path
    contract: InferredContract
    params: Params
    replaced: list[Path]
    dropped_time_column: str | None = None
    """The ``split.time_column`` removed because the new contract has no such datetime column."""
    replaced_estimator: str | None = None
    """The ``train.estimator`` replaced by the default because it does not support the new task."""
    plots_changed: bool = False
    """Whether ``dvc.yaml``'s ``plots:`` section was rewritten for the new task (then it is to be committed too)."""
    renamed_files: tuple[str, ...] = ()
    """The files the project's new name changed (pyproject.toml, uv.lock, README.md), to be committed too."""


def on_template_sample(params: Params, root: Path, source: Path) -> bool:
    """True while the project still runs on the built-in sample: ``data.sample`` is set, and nothing in ``data/``
    but ``data.path`` (and ``source``). Only then may init-data go ahead without ``--force``."""
    if params.data.sample is None:
        return False
    return all(path in (root / params.data.path, source) for path in _files(root / DATA_DIR))


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []


def project_name(source: Path) -> str:
    """A ``project.name`` from the file name: ``Customer Churn.csv`` -> ``customer-churn``."""
    return re.sub(r"[^a-z0-9]+", "-", source.stem.lower())[:63].strip("-") or "model"


def _labels(contract: InferredContract) -> tuple[str, str]:
    target = contract.target
    if isinstance(target.positive, str):
        return target.positive, str(target.negative)
    return target.name, f"not {target.name}"


# schema keys that belong to one task only (config.SchemaParams): init-data removes those of the other tasks.
TASK_KEYS = {
    Task.BINARY: ("positive_class", "negative_class", "min_target_rate", "max_target_rate"),
    Task.MULTICLASS: ("classes",),
    Task.REGRESSION: ("target_min", "target_max"),
}
TARGET_COMMENT = {
    Task.BINARY: "the label: positive_class (validated as 1) or negative_class (0)",
    Task.MULTICLASS: "the label: one of schema.classes (validated as its position)",
    Task.REGRESSION: "the number to predict, within [target_min, target_max]",
}
COMMENT_COLUMN = 32  # where the template's params.yaml puts its end-of-line comments


def _render_project(
    doc: Any, contract: InferredContract, data_path: Path, fresh: bool, relabel: bool, name: str | None
) -> None:
    set_value = params_yaml.set_value
    if "project" not in doc:
        set_value(doc, "project", {}, after="")
    project = doc["project"]
    if fresh or name:
        set_value(project, "name", name or project_name(data_path))
    if contract.task is not Task.BINARY:
        for key in ("positive_label", "negative_label"):  # reports name the classes themselves
            params_yaml.remove(project, key)
    elif fresh or relabel:
        positive_label, negative_label = _labels(contract)
        set_value(project, "positive_label", positive_label, after="name")
        set_value(project, "negative_label", negative_label, after="positive_label")
    if fresh:
        for key in ("intended_use", "limitations", "owner"):
            set_value(project, key, TODO.format(key))


def _render_schema(schema: Any, contract: InferredContract) -> None:
    set_value = params_yaml.set_value
    facts, task = contract.target, contract.task
    set_value(schema, "task", task.value, after="", comment="binary | multiclass | regression", column=COMMENT_COLUMN)
    set_value(schema, "target", facts.name, after="task")
    params_yaml.set_comment(schema, "target", TARGET_COMMENT[task], column=COMMENT_COLUMN)
    for other, keys in TASK_KEYS.items():
        for key in keys if other is not task else ():
            params_yaml.remove(schema, key)
    last = "target"
    if task is Task.BINARY:
        set_value(schema, "positive_class", facts.positive, after="target")
        set_value(schema, "negative_class", facts.negative, after="positive_class")
        last = "negative_class"
    elif task is Task.MULTICLASS:
        set_value(schema, "classes", params_yaml.node(facts.classes, flow=True), after="target")
        last = "classes"
    else:
        low, high = contract.target_range or (None, None)
        set_value(schema, "target_min", _number(low), after="target")
        set_value(schema, "target_max", _number(high), after="target_min")
        last = "target_max"
    set_value(schema, "ids", params_yaml.node(contract.ids, flow=True), after=last)
    set_value(schema, "min_rows", contract.min_rows, after="ids")
    if task is Task.BINARY:
        low, high = contract.target_rate_bounds
        set_value(schema, "min_target_rate", low, after="min_rows")
        set_value(schema, "max_target_rate", high, after="min_target_rate")
    columns = params_yaml.node({})
    comment_at = 4 + max(len(column) for column in contract.columns) + 3  # `    name:` and two spaces, aligned
    for column, spec in contract.columns.items():
        entry = spec.model_dump(mode="json", exclude_defaults=True)
        if spec.type in (ColumnType.INT, ColumnType.FLOAT):
            entry = {**entry, "min": _number(spec.min), "max": _number(spec.max)}
        block = params_yaml.node(entry)
        for key in ("categories", "parts"):
            if key in block:
                block[key] = params_yaml.node(entry[key], flow=True)
        set_value(columns, column, block, comment=contract.notes[column], column=comment_at)
    set_value(schema, "columns", columns)


def _render_gate(doc: Any, contract: InferredContract) -> None:
    gate = doc.setdefault("gate", params_yaml.node({}))
    params_yaml.set_value(gate, "primary_metric", contract.primary_metric, after="")
    for key, rules in (("guards", contract.guards), ("floors", contract.floors)):
        params_yaml.set_value(gate, key, {metric: _number(value) for metric, value in rules.items()})


def _render_split(doc: Any, contract: InferredContract) -> str | None:
    """Remove ``split.time_column`` when the new contract has no such datetime column; return its old value."""
    split = doc.get("split")
    name = split.get("time_column") if split is not None else None
    if name is None:
        return None
    spec = contract.columns.get(name)
    if spec is not None and spec.type is ColumnType.DATETIME:
        return None
    params_yaml.remove(split, "time_column")
    return str(name)


def _render_train(doc: Any, contract: InferredContract) -> str | None:
    """Set ``train.estimator`` to the default when it does not support the new task; return the one replaced."""
    train = doc.get("train")
    name = train.get("estimator") if train is not None else None
    if train is None or name is None:
        return None
    chosen = estimator_for_task(str(name), contract.task)
    if chosen == str(name):
        return None
    params_yaml.set_value(train, "estimator", chosen)
    return str(name)


def render_params(
    text: str, contract: InferredContract, data_path: Path, *, fresh: bool, relabel: bool, name: str | None
) -> str:
    """``params.yaml`` text with the inferred data path, task, contract, table rules and gate defaults (comments
    kept).

    ``fresh`` (first adoption) also resets ``project:`` (name, class labels, model-card text to fill in). Later,
    ``relabel`` (the target or its positive class changed) resets the class labels, and ``name`` the name. A
    ``split.time_column`` that is no datetime column of the new contract is removed, and a ``train.estimator``
    that does not support the new task is replaced by the default.
    """
    doc = params_yaml.load(text)
    _render_project(doc, contract, data_path, fresh, relabel, name)
    params_yaml.set_value(doc.setdefault("data", params_yaml.node({})), "path", data_path.as_posix(), after="")
    params_yaml.remove(doc["data"], "sample")  # your own data: ensure-data must never regenerate the sample over it
    _render_schema(doc["schema"], contract)
    _render_gate(doc, contract)
    _render_split(doc, contract)
    _render_train(doc, contract)
    return params_yaml.dump(doc)


def _number(value: float | None) -> Any:
    """A bound as YAML writes it best: whole numbers without ``.0``."""
    return int(value) if value is not None and float(value).is_integer() else value


def _check_source(source: Path) -> None:
    if not source.is_file():
        raise InitDataError(f"{source} does not exist or is not a file")
    if source.suffix.lower() not in SUFFIXES:
        raise InitDataError(f"{source}: init-data reads CSV or parquet files ({', '.join(SUFFIXES)}); convert it")


def _read(source: Path) -> Any:
    try:
        return read_table(source, dtype_backend="numpy_nullable")
    except DataContractError as exc:
        raise InitDataError(str(exc)) from None


def plan(
    source: Path,
    target: str,
    root: Path,
    *,
    force: bool = False,
    positive: str | None = None,
    name: str | None = None,
    task: Task | None = None,
) -> tuple[InferredContract, str, Path]:
    """Everything init-data will write, computed in memory: (contract, params.yaml text, data path).

    Raises :class:`InitDataError` (or the config's :class:`ConfigError`) before anything is written.
    """
    root, source = root.resolve(), source.resolve()
    params_path = root / "params.yaml"
    params = load_params(params_path)
    if not (root / ".dvc").is_dir():
        raise InitDataError(f"{root} is not a DVC repository: run init-data from the project's root")
    _check_source(source)
    fresh = on_template_sample(params, root, source)
    if not fresh and not force:
        others = [p.relative_to(root).as_posix() for p in _files(root / DATA_DIR) if p != source]
        raise InitDataError(
            f"the project already has data of its own (data.path: {params.data.path}, schema.target: "
            f"{params.schema.target}"
            + (f"; data/ holds {', '.join(others)}" if others else "")
            + "): run init-data with --force to replace data/ and the project:, data:, schema: and gate: rules "
            "of params.yaml"
        )
    frame = _read(source)
    contract = infer_contract(frame, target, positive, task)
    data_path = DATA_DIR / source.name
    facts = contract.target
    positive_class = facts.positive if contract.task is Task.BINARY else None
    relabel = (params.schema.target, params.schema.positive_class) != (facts.name, positive_class)
    text = params_path.read_text(encoding="utf-8")
    text = render_params(text, contract, data_path, fresh=fresh, relabel=relabel, name=name)
    new_params = parse_params(yaml.safe_load(text), source="params.yaml (as init-data would write it)")
    try:  # the data must pass exactly the check `make run` will apply to it
        check_frame(read_table(source), new_params.schema)
    except DataContractError as exc:  # pragma: no cover - a gap between infer_contract and validate
        raise InitDataError(f"the inferred contract does not hold for the file (a bug in init-data): {exc}") from None
    return contract, text, data_path


def _dvc_add(root: Path) -> None:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.add(str(root / DATA_DIR))


def install(source: Path, root: Path, data_path: Path, params_text: str, named: Renamed) -> list[Path]:
    """Make ``data/`` hold ``source`` alone, write params.yaml and the distribution's name (``named``), ``dvc add
    data``; all or nothing.

    Returns the other files that were in ``data/`` (removed; ``dvc checkout`` of an older data.dvc brings
    tracked ones back).
    """
    data_dir = root / DATA_DIR
    before = [p.relative_to(root) for p in _files(data_dir) if p.relative_to(root) != data_path]
    staging = Path(tempfile.mkdtemp(prefix=".init-data-", dir=root))
    try:
        new_dir = staging / "data"
        new_dir.mkdir()
        shutil.copy2(source, new_dir / data_path.name)  # first: the source may be inside data/
        old_dir = staging / "old-data"
        with restorable(root, [Path("params.yaml"), PYPROJECT, LOCK, README, *DVC_FILES]):
            if data_dir.exists():
                data_dir.rename(old_dir)
            try:
                new_dir.rename(data_dir)
                with atomic_write(root / "params.yaml") as tmp:
                    tmp.write_text(params_text, encoding="utf-8")
                write_renamed(root, named)
                _dvc_add(root)
            except BaseException:
                if not new_dir.exists():  # the new data/ is in place: take it out again
                    shutil.rmtree(data_dir, ignore_errors=True)
                if old_dir.exists():
                    old_dir.rename(data_dir)
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return before


def init_data(
    source: Path,
    target: str,
    root: Path = Path(),
    *,
    force: bool = False,
    positive: str | None = None,
    name: str | None = None,
    task: Task | None = None,
) -> Adopted:
    """Adopt ``source`` as the project's data with ``target`` as the label, its task inferred unless ``task`` is
    given (see the module docstring)."""
    root, source = root.resolve(), source.resolve()
    before = load_params(root / "params.yaml")
    contract, text, data_path = plan(source, target, root, force=force, positive=positive, name=name, task=task)
    name = parse_params(yaml.safe_load(text)).project.name  # the distribution and the README's title follow it
    named = renamed(root, name, titled_after=(before.project.name, TEMPLATE_DISTRIBUTION))
    renamed_files = tuple(
        path.as_posix()
        for path, new_text in ((PYPROJECT, named.pyproject), (LOCK, named.lock), (README, named.readme))
        if new_text is not None and new_text != (root / path).read_text(encoding="utf-8")
    )
    replaced = install(source, root, data_path, text, named)
    params = load_params(root / "params.yaml")
    dropped = before.split.time_column if params.split.time_column is None else None
    estimator = params.train.estimator.value
    replaced_estimator = before.train.estimator.value if estimator != before.train.estimator.value else None
    plots_changed = write_dvc_plots(root / "dvc.yaml", contract.task)  # DVC draws the plots of the new task
    return Adopted(data_path, contract, params, replaced, dropped, replaced_estimator, plots_changed, renamed_files)


def _pct(rate: float) -> str:
    return f"{100 * rate:.4g}%"


def _target_line(contract: InferredContract) -> str:
    facts = contract.target
    head = f"  target {facts.name}: {contract.task.value} ({facts.reason})"
    if contract.task is Task.BINARY:
        return (
            f"{head}; positive class {facts.positive!r}, {_pct(facts.rate)} of labelled rows; "
            f"negative {facts.negative!r}"
        )
    if contract.task is Task.MULTICLASS:
        shares = ", ".join(f"{label} {_pct(n / facts.rows)}" for label, n in facts.class_rows.items())
        return f"{head}; classes (schema.classes, in this order): {shares}"
    values = facts.encoded
    low, high = contract.target_range or (None, None)
    return (
        f"{head}; observed {values.min():g} to {values.max():g}, mean {values.mean():g}; "
        f"contract range [{_number(low)}, {_number(high)}]"
    )


def _rules(rules: dict[str, float]) -> str:
    return ", ".join(f"{metric} {_number(value)}" for metric, value in rules.items()) or "none"


def describe(adopted: Adopted) -> list[str]:
    """What init-data did, line by line, ending with the two commands to run next."""
    contract, schema = adopted.contract, adopted.params.schema
    facts = contract.target
    features = []
    for name, spec in contract.columns.items():
        if spec.categories is not None:
            detail = f"{len(spec.categories)} categories"
        elif spec.min is not None:
            detail = f"[{_number(spec.min)}, {_number(spec.max)}]"
        elif spec.type is ColumnType.DATETIME:
            detail = "as " + ", ".join(part.value for part in spec.date_parts)
        else:
            detail = ""
        features.append(" ".join(part for part in (name, spec.type.value, detail, "nullable" * spec.nullable) if part))
    labelled = f"{contract.rows} labelled rows"
    if facts.unlabelled:
        labelled += f"; {facts.unlabelled} unlabelled rows (no {facts.name}), which validate leaves out"
    lines = [
        f"init-data: {adopted.data_path.as_posix()} ({labelled}) is the project's data",
        _target_line(contract),
        f"  features ({len(features)}): " + "; ".join(features),
        f"  ids: {', '.join(contract.ids) or 'none'}",
    ]
    if contract.excluded:
        lines.append("  not used: " + "; ".join(f"{name} ({why})" for name, why in contract.excluded.items()))
    table = f"min_rows {schema.min_rows}"
    if contract.task is Task.BINARY:
        low, high = contract.target_rate_bounds
        table += f", positive rate within [{low}, {high}]"
    gate = adopted.params.gate
    lines += [
        f"  params.yaml: data.path, schema (task {contract.task.value}, {table}), "
        f"gate (primary_metric {gate.primary_metric}; guards {_rules(gate.guards)}; floors {_rules(gate.floors)}), "
        f"project (name {adopted.params.project.name})",
    ]
    if adopted.renamed_files:
        lines.append(
            f"  {', '.join(adopted.renamed_files)}: named {adopted.params.project.name} (the Python distribution, "
            "and the README's title unless you wrote your own; `make rename NAME=...` renames the project)"
        )
    if adopted.dropped_time_column:
        lines.append(
            f"  removed split.time_column: {adopted.dropped_time_column} is no datetime column of the new data "
            "(the split is random again)"
        )
    if adopted.replaced_estimator:
        lines.append(
            f"  train.estimator: {adopted.params.train.estimator.value} (was {adopted.replaced_estimator}, which does "
            f"not support task {contract.task.value})"
        )
    if adopted.plots_changed:
        lines.append(f"  dvc.yaml: plots of task {contract.task.value} (pipeline/plots.py)")
    if adopted.replaced:
        lines.append(f"  removed from data/: {', '.join(p.as_posix() for p in adopted.replaced)}")
    files = " ".join(
        ["data.dvc", "params.yaml", "dvc.lock", ".gitignore", *(["dvc.yaml"] if adopted.plots_changed else []),
         *adopted.renamed_files]
    )  # fmt: skip
    lines += [
        "Next:",
        "  make run",
        f'  git add {files} && git commit -m "Own data: {adopted.data_path.name}"',
    ]
    return lines
