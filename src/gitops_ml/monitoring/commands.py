"""CLI commands of monitoring, registered in :mod:`gitops_ml.cli`: the stage ``drift-reference`` and ``drift``.

``drift`` exits 0 whenever the check ran, drift or not (``reports/drift.json`` says which, and so does the last
line on stdout, ``drift=true`` or ``drift=false``, for ``$GITHUB_OUTPUT``): the monitoring workflow decides what
to do about it. ``--fail-on-drift`` makes a found drift exit with :data:`DRIFT_EXIT_CODE` instead. Bad input
exits 1 with one message and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_ml import paths
from gitops_ml.cli_support import ParamsOption, console, say
from gitops_ml.config import load_params

DRIFT_EXIT_CODE = 3
"""Exit code of ``drift --fail-on-drift`` when the window drifted (1 is bad input, 2 a bad command line)."""


def drift_reference(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Stage drift_reference: the training split's features and the model's predictions, for `gitops-ml drift`."""
    from gitops_ml.monitoring.reference import run_reference

    params = load_params(params_path)
    with console.status("scoring the training split for the drift reference"):
        rows = run_reference(paths.TRAIN, paths.MODEL, params.schema, paths.DRIFT_REFERENCE, params.train.seed)
    console.print(f"drift_reference: wrote {paths.DRIFT_REFERENCE} ({rows} rows)")


def drift(
    current: Annotated[
        str,
        typer.Option(
            "--current",
            help="The window: a directory or glob of prediction-log files (*.jsonl, *.jsonl.gz), or a CSV/parquet "
            "file with the schema's feature columns (and optionally the prediction: score, label or value, by the "
            "task). fsspec URLs work too.",
            show_default=False,
        ),
    ],
    against: Annotated[
        str,
        typer.Option(
            "--against",
            help="Which model's training data and model to compare with: auto (the release the window names, else "
            "the one deploy/overlays/production runs, else the working tree), workspace (the working tree's files), "
            "a release model-vN or a git revision.",
        ),
    ] = "auto",
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where drift.json and drift.md go.")] = paths.REPORTS,
    reference_path: Annotated[
        Path, typer.Option("--reference", help="The working tree's training reference (DVC stage drift_reference).")
    ] = paths.DRIFT_REFERENCE,
    model_path: Annotated[
        Path, typer.Option("--model", help="The working tree's model; scores a window that has no prediction.")
    ] = paths.MODEL,
    fail_on_drift: Annotated[
        bool, typer.Option(help=f"Exit {DRIFT_EXIT_CODE} when drift is found (default: exit 0 either way).")
    ] = False,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Compare a window of predictions with the training data of the model that served it: reports/drift.json, .md.

    The thresholds (``monitor:``) are the working tree's params.yaml's; the reference, the model and the schema are
    those of the chosen commit (:mod:`gitops_ml.monitoring.against`).
    """
    from gitops_ml.io import atomic_write, dump_json
    from gitops_ml.monitoring.against import choose
    from gitops_ml.monitoring.drift import PreparedReference, ReferenceOrigin, compare, window_prediction
    from gitops_ml.monitoring.reference import read_reference
    from gitops_ml.monitoring.reference_source import commit_schema, label_of, reference_files
    from gitops_ml.monitoring.render import render
    from gitops_ml.monitoring.window import check_window, model_versions, read_window

    params = load_params(params_path)
    monitor, repo = params.monitor, Path.cwd()
    with console.status(f"reading the window {current}"):
        raw = read_window(current, [*params.schema.columns, params.schema.target])
        versions = model_versions(raw.frame)
        choice = choose(repo, against, versions[0] if versions else None, reference_path)
        schema = commit_schema(repo, choice, params.schema)
        window = check_window(raw, schema, monitor.min_window_rows)
    compared_with = "the working tree" if choice.working_tree else label_of(choice)
    console.print(f"drift: comparing with {compared_with} (chosen by {choice.chosen_by})")
    need_model = monitor.score and window.prediction is None
    with reference_files(
        repo, choice, reference=reference_path, model=model_path, need_model=need_model, say=say
    ) as files:
        with console.status(f"reading the drift reference of {compared_with}"):
            reference = PreparedReference(read_reference(files.reference, schema), schema, monitor.bins, files.label)
        with console.status(f"comparing {window.rows} records with {reference.rows} training rows"):
            predicted, source = window_prediction(window, monitor, files.model, schema)
    origin = ReferenceOrigin(
        chosen_by=choice.chosen_by, commit=choice.commit, model_version=choice.model_version,
        read_from=files.read_from, note=choice.note,
    )  # fmt: skip
    report = compare(reference, window, monitor, predicted, source, origin)
    json_text, markdown = dump_json(report.model_dump(mode="json")), render(report)
    json_path, md_path = out_dir / paths.DRIFT_JSON.name, out_dir / paths.DRIFT_MD.name
    with atomic_write(json_path) as json_tmp, atomic_write(md_path) as md_tmp:  # both or neither
        json_tmp.write_text(json_text, encoding="utf-8")
        md_tmp.write_text(markdown, encoding="utf-8")
    verdict = f"drift in {', '.join(report.drifted)}" if report.drift else "no drift"
    console.print(f"drift: {verdict} ({window.rows} records); wrote {md_path} and {json_path}")
    typer.echo(f"drift={'true' if report.drift else 'false'}")
    if report.drift and fail_on_drift:
        raise typer.Exit(DRIFT_EXIT_CODE)
