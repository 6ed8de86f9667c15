"""MLflow tracking of each pipeline result: params, metrics, the model (skops) and where it came from.

A run is opened (:func:`open_run`: tags, params, the model) and then closed with the metrics (:func:`close_run`),
or deleted when the stage fails (:func:`discard_run`); the evaluate stage does this in a second process while it
computes the metrics (:mod:`gitops_ml.tracking_background`).

The tracking URI is ``MLFLOW_TRACKING_URI`` when set, else ``tracking.default_uri`` in params.yaml (a local
sqlite file). A configured server that does not answer fails the stage with the URI and the fix, instead of
hanging in MLflow's retries.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from gitops_ml.config import Params
from gitops_ml.errors import TrackingError
from gitops_ml.model_io import TRUSTED_TYPES
from gitops_ml.tasks import Task
from gitops_ml.values import flatten
from gitops_ml.vcs import head_or_unknown

HEALTH_TIMEOUT_S = 5.0


def tracking_uri(params: Params) -> str:
    """The MLflow tracking URI in force: the environment's, else the one in params.yaml."""
    return os.environ.get("MLFLOW_TRACKING_URI") or params.tracking.default_uri


def check_reachable(uri: str, timeout: float = HEALTH_TIMEOUT_S) -> None:
    """For an http(s) URI, require the server's ``/health`` to answer; raise :class:`TrackingError` if not."""
    if not uri.startswith(("http://", "https://")):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            if response.status != 200:
                raise TrackingError(f"MLflow server {uri} answered /health with HTTP {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({reason}). Start it, fix MLFLOW_TRACKING_URI, "
            "or unset it to log to the local sqlite store."
        ) from None


def model_requirements() -> list[str]:
    """What loading the logged model needs, pinned to this environment (skips MLflow's slow inference)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "numpy", "pandas", "scipy")]


def _example_output(model: Pipeline, example: pd.DataFrame, task: Task) -> Any:
    """What the model gives for ``example``, shaped by the task (the MLflow signature's output)."""
    if task is Task.REGRESSION:
        return model.predict(example)
    probabilities = model.predict_proba(example)
    return probabilities[:, 1] if task is Task.BINARY else probabilities


def logged_params(params: Params) -> dict[str, Any]:
    """The params a run records: the estimator's own, the seed, the split and the decision threshold."""
    logged = {
        k: v
        for k, v in flatten(params.train.model_dump(mode="json")).items()
        if k in ("estimator", "seed") or k.startswith(f"{params.train.estimator.value}.")
    }
    logged |= flatten(params.split.model_dump(mode="json"), "split.")
    logged["evaluate.threshold"] = params.evaluate.threshold
    return logged


def _refused(uri: str, exc: Exception) -> TrackingError:
    return TrackingError(f"MLflow at {uri} refused the run: {exc}")


def open_run(params: Params, model: Pipeline, input_example: pd.DataFrame, data_md5: str) -> str:
    """Start this process's MLflow run and log what is known before the metrics: tags, params and the model.

    The run stays active until :func:`close_run` (or :func:`discard_run`); returns its id.
    """
    import mlflow  # imported here: it is slow to import and only the tracking process needs it
    from mlflow.models import infer_signature

    uri = tracking_uri(params)
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment(params.tracking.experiment)
        run = mlflow.start_run()
        mlflow.set_tags(
            {
                "git_commit": head_or_unknown(),
                "data_md5": data_md5,
                "stage": "evaluate",
                "estimator": params.train.estimator.value,
            }
        )
        mlflow.log_params(logged_params(params))
        mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=list(TRUSTED_TYPES),
            signature=infer_signature(input_example, _example_output(model, input_example, params.task)),
            input_example=input_example,
            pip_requirements=model_requirements(),
        )
        run_id: str = run.info.run_id
        return run_id
    except TrackingError:
        raise
    except Exception as exc:  # MLflow wraps transport and store errors in many types
        raise _refused(uri, exc) from exc


def close_run(params: Params, metrics: dict[str, Any], artifacts: list[Path]) -> str:
    """Log the metrics and the report files to the run :func:`open_run` started, end it, and return its id."""
    import mlflow

    uri = tracking_uri(params)
    try:
        run = mlflow.active_run()
        if run is None:
            raise TrackingError("no MLflow run is open in this process: open_run comes first")
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="reports")
        mlflow.end_run()
        run_id: str = run.info.run_id
        return run_id
    except TrackingError:
        raise
    except Exception as exc:
        raise _refused(uri, exc) from exc


def discard_run() -> None:
    """End the open run (if any) and delete it and the models it logged: a stage that failed records nothing.

    MLflow deletes softly (the run leaves searches and the UI; ``mlflow gc`` removes it for good).
    """
    import mlflow

    run = mlflow.active_run()
    if run is None:
        return
    mlflow.end_run(status="KILLED")
    client = mlflow.MlflowClient()
    for logged in client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
    ):
        client.delete_logged_model(logged.model_id)
    client.delete_run(run.info.run_id)
