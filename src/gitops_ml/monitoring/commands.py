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
from gitops_ml.cli_support import ParamsOption, console
from gitops_ml.config import load_params

DRIFT_EXIT_CODE = 3
"""Exit code of ``drift --fail-on-drift`` when the window drifted (1 is bad input, 2 a bad command line)."""


def drift_reference(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Stage drift_reference: the training split's features and the model's scores, for `gitops-ml drift`."""
    from gitops_ml.monitoring.reference import run_reference

    params = load_params(params_path)
    with console.status("scoring the training split for the drift reference"):
        rows = run_reference(paths.TRAIN, paths.MODEL, params.schema, paths.DRIFT_REFERENCE)
    console.print(f"drift_reference: wrote {paths.DRIFT_REFERENCE} ({rows} rows)")


def drift(
    current: Annotated[
        str,
        typer.Option(
            "--current",
            help="The window: a directory or glob of prediction-log files (*.jsonl, *.jsonl.gz), or a CSV/parquet "
            "file with the schema's feature columns (and optionally score). fsspec URLs work too.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where drift.json and drift.md go.")] = paths.REPORTS,
    reference_path: Annotated[
        Path, typer.Option("--reference", help="The training reference (DVC stage drift_reference).")
    ] = paths.DRIFT_REFERENCE,
    model_path: Annotated[
        Path, typer.Option("--model", help="Scores a window that has no score column.")
    ] = paths.MODEL,
    fail_on_drift: Annotated[
        bool, typer.Option(help=f"Exit {DRIFT_EXIT_CODE} when drift is found (default: exit 0 either way).")
    ] = False,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Compare a window of predictions with the training reference: reports/drift.json and drift.md."""
    from gitops_ml.io import atomic_write, dump_json
    from gitops_ml.monitoring.drift import PreparedReference, compare, window_scores
    from gitops_ml.monitoring.reference import read_reference
    from gitops_ml.monitoring.render import render
    from gitops_ml.monitoring.window import check_window, read_window

    params = load_params(params_path)
    monitor, schema = params.monitor, params.schema
    with console.status(f"reading the window {current}"):
        window = check_window(read_window(current, schema.columns), schema, monitor.min_window_rows)
        reference = PreparedReference(read_reference(reference_path, schema), schema, monitor.bins, str(reference_path))
    with console.status(f"comparing {window.rows} records with {reference.rows} training rows"):
        scores, source = window_scores(window, monitor, model_path, schema)
        report = compare(reference, window, monitor, scores, source)
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
