"""CLI commands of the pipeline: the DVC stages (``validate``, ``split``, ``train``, ``evaluate``), ``init-data``,
the data helpers (``sample-data``, ``ensure-data``), ``metrics`` and batch ``score``. Registered in
:mod:`gitops_ml.cli`. With ``compute.engine: dask`` the stages run their Dask versions on a cluster
(:mod:`gitops_ml.compute`).

Every command reaches the team's code only through :mod:`gitops_ml.pipeline.interface`, imported when it runs (each
stage then imports its own module of ``pipeline/``), so the CLI starts whatever ``pipeline/`` holds.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gitops_ml import paths
from gitops_ml.cli_support import ParamsOption, console, out, say
from gitops_ml.config import SampleParams, load_params
from gitops_ml.tasks import Task

if TYPE_CHECKING:
    from gitops_ml.tracking_background import BackgroundRun


def sample_data(
    rows: Annotated[int | None, typer.Option(help="Rows to generate [default: data.sample.rows].")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: data.sample.seed].")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="CSV to write [default: data.path].")] = None,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Generate the built-in synthetic sample (the optional plug-in pipeline/sample_data.py)."""
    from gitops_ml.pipeline.interface import sample_writer

    params = load_params(params_path)
    write_sample = sample_writer()
    sample = params.data.sample or SampleParams()
    rows = rows or sample.rows
    target = out_path or params.data.path
    with console.status(f"generating {rows} rows"):
        write_sample(target, rows, sample.seed if seed is None else seed)
    console.print(f"wrote {target} ({rows} rows)")


def ensure_data(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Make data/ match data.dvc: keep it, restore or pull it, or (data.sample set) regenerate the sample."""
    from gitops_ml.data_source import ensure_data as ensure

    ensure(load_params(params_path), paths.DATA_DVC, Path.cwd(), say=say)


def init_data(
    path: Annotated[Path, typer.Argument(help="Your data: a CSV or parquet file.", show_default=False)],
    target: Annotated[str, typer.Option("--target", help="The label column.", show_default=False)],
    task: Annotated[
        Task | None,
        typer.Option(help="What the model predicts [default: inferred from the target].", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace data/ and the params of data adopted before.")] = False,
    positive: Annotated[
        str | None,
        typer.Option(help="Binary: the target's value that means positive [default: true, 1, yes, or rarer]."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="project.name [default: from the file name].")] = None,
) -> None:
    """Adopt your own data: infer the task and contract into params.yaml, make data/ hold the file, `dvc add data`."""
    from gitops_ml.adopt.init_data import describe
    from gitops_ml.adopt.init_data import init_data as adopt

    with console.status(f"adopting {path}"):
        adopted = adopt(path, target, force=force, positive=positive, name=name, task=task)
    for line in describe(adopted):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def validate(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Stage validate: check the raw data against the schema in params.yaml and write it typed."""
    from gitops_ml.pipeline.interface import describe_summary, run_validate

    params = load_params(params_path)
    if params.compute.on_cluster:  # the Dask engine (docs/scale-out-dask.md)
        from gitops_ml.compute.cluster import cluster_runner
        from gitops_ml.pipeline.interface import validate_on_cluster

        with cluster_runner(params.compute, say, console) as runner:
            summary = validate_on_cluster(
                runner,
                params.data.path,
                params.schema,
                params.compute.partition_mb,
                paths.VALIDATED,
                paths.DATA_SUMMARY,
            )
    else:
        with console.status(f"validating {params.data.path}"):
            summary = run_validate(params.data.path, params.schema, paths.VALIDATED, paths.DATA_SUMMARY)
    console.print(describe_summary(summary), markup=False, highlight=False, soft_wrap=True)


def split(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Stage split: hold-out split of the validated data (random, or the latest rows by split.time_column)."""
    from gitops_ml.pipeline.interface import run_split

    params = load_params(params_path)
    if params.compute.on_cluster:  # the Dask engine (docs/scale-out-dask.md)
        from gitops_ml.compute.cluster import cluster_runner
        from gitops_ml.pipeline.interface import split_on_cluster

        with cluster_runner(params.compute, say, console) as runner:
            split_on_cluster(
                runner,
                paths.VALIDATED,
                params.schema,
                params.split,
                params.compute.partition_mb,
                paths.TRAIN,
                paths.TEST,
            )
    else:
        run_split(paths.VALIDATED, params.schema, params.split, paths.TRAIN, paths.TEST)
    split = params.split
    how = f"latest by {split.time_column}" if split.time_column else f"seed={split.seed}"
    console.print(f"split: test_size={split.test_size}, {how}", markup=False, highlight=False)


def train(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Stage train: fit the estimator named by train.estimator."""
    from gitops_ml.pipeline.interface import run_train

    params = load_params(params_path)
    if params.compute.on_cluster:  # the Dask engine (docs/scale-out-dask.md)
        from gitops_ml.compute.cluster import cluster_runner
        from gitops_ml.pipeline.interface import train_on_cluster

        with cluster_runner(params.compute, say, console) as runner:
            train_on_cluster(
                runner, paths.TRAIN, params.schema, params.train, params.compute, paths.MODEL, paths.MODEL_INFO, say,
            )  # fmt: skip
    else:
        with console.status(f"training {params.train.estimator.value}"):
            run_train(paths.TRAIN, params.schema, params.train, paths.MODEL, paths.MODEL_INFO)
    console.print(f"train: {params.train.estimator.value} saved to {paths.MODEL}")


def evaluate(
    params_path: ParamsOption = Path("params.yaml"),
    track: Annotated[bool, typer.Option(help="Log the run to MLflow (tracking.enabled).")] = True,
) -> None:
    """Stage evaluate: metrics, plot data and predictions on the test set; log the run to MLflow."""
    from gitops_ml.model_io import load_model
    from gitops_ml.pipeline.interface import run_evaluate

    params = load_params(params_path)
    tracked = track and params.tracking.enabled
    if tracked:
        from gitops_ml.tracking import check_reachable, tracking_uri

        check_reachable(tracking_uri(params))  # fail before the work, not after it
    with _background_run(params_path) if tracked else contextlib.nullcontext() as run:
        model = load_model(paths.MODEL)
        labels = (params.project.negative_label, params.project.positive_label)
        if params.compute.on_cluster:  # the Dask engine (docs/scale-out-dask.md)
            from gitops_ml.compute.cluster import cluster_runner
            from gitops_ml.pipeline.interface import evaluate_on_cluster

            with cluster_runner(params.compute, say, console) as runner:
                metrics = evaluate_on_cluster(
                    runner, model, paths.TEST, params.schema, params.evaluate, params.train.seed,
                    params.compute.partition_mb, paths.REPORTS, labels,
                )  # fmt: skip
        else:
            with console.status("evaluating on the test set"):
                metrics = run_evaluate(
                    model, paths.TEST, params.schema, params.evaluate, params.train.seed, paths.REPORTS, labels
                )
        console.print(f"evaluate: wrote {paths.METRICS}")
        if run is not None:  # tracked: tracking_uri was imported above
            with console.status(f"logging the run to MLflow at {tracking_uri(params)}"):
                run_id = run.finish(metrics, [paths.METRICS, paths.METRICS_CI, paths.MODEL_INFO])
            console.print(f"evaluate: MLflow run {run_id} in experiment '{params.tracking.experiment}'")


def _background_run(params_path: Path) -> BackgroundRun:
    """The stage's MLflow run, logged by a second process meanwhile (:mod:`gitops_ml.tracking_background`)."""
    from gitops_ml.tracking_background import BackgroundRun

    return BackgroundRun(params_path, paths.MODEL, paths.TEST, paths.DATA_SUMMARY)


def metrics(
    path: Annotated[Path, typer.Option(help="The metrics file.")] = paths.METRICS,
    ci_path: Annotated[Path, typer.Option("--ci", help="The confidence-interval file.")] = paths.METRICS_CI,
) -> None:
    """Print the metrics of the last evaluate as a table."""
    from gitops_ml.io import read_json
    from gitops_ml.model_metrics import all_metric_names

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics yet; run `make run` (or `dvc repro`) first")
    values = read_json(path)
    intervals = read_json(ci_path)["metrics"] if ci_path.exists() else {}
    at = f", threshold {values['threshold']}" if "threshold" in values else ""
    table = Table(title=f"Metrics ({values['test_rows']} test rows{at})")
    for column in ("metric", "value", "95% interval" if intervals else ""):
        if column:
            table.add_column(column, justify="left" if column == "metric" else "right")
    for name in (name for name in all_metric_names() if name in values):
        value = values.get(name)
        row = [name, "n/a" if value is None else f"{value:.4f}"]
        if intervals:
            bounds = intervals.get(name, {})
            low, high = bounds.get("low"), bounds.get("high")
            row.append("n/a" if low is None else f"[{low:.4f}, {high:.4f}]")
        table.add_row(*row)
    out.print(table)


def score(
    input_path: Annotated[
        Path,
        typer.Option(
            "--in", help="A CSV or parquet file, or a directory of parquet files, to score.", show_default=False
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--out", help="The directory of parquet parts to write (replaced whole).", show_default=False),
    ],
    model: Annotated[
        str,
        typer.Option(help="auto (the released model, else the working tree's), released, current, or a model-vN."),
    ] = "auto",
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Score a large file or directory part by part (on the Dask cluster with compute.engine: dask); ids kept."""
    from gitops_ml.compute.cluster import Runner, cluster_runner
    from gitops_ml.compute.scoring import run_score, scoring_model

    params = load_params(params_path)
    with scoring_model(model, params, Path.cwd(), say) as chosen:
        say(f"score: {input_path} with {chosen.label}")
        if params.compute.on_cluster:
            with cluster_runner(params.compute, say, console) as runner:
                rows, parts = run_score(runner, chosen, input_path, output, params.compute.partition_mb)
        else:
            rows, parts = run_score(Runner(None, console), chosen, input_path, output, params.compute.partition_mb)
    say(f"score: wrote {rows} rows in {parts} parts to {output}")
