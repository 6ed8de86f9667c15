"""The baseline: what a person would write without the template, in one process.

It reads the same CSV, splits it the same way (stratified, same seed and test size), fits the same sklearn
Pipeline (preprocessing + the estimator named in params.yaml) and scores it on the test set. It does none of
the template's extra work: no data contract, no parquet hand-offs between stages, no bootstrap intervals, no
plot data, no permutation importance, no MLflow run, no drift reference, no DVC bookkeeping.

Run it from a project directory: ``python benchmarks/bare_script.py [params.yaml]``. It prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split


def main(params_path: Path) -> dict[str, float]:
    """Read, split, fit and score; return the metrics and the time each part took."""
    # Imported inside main so that the import time is inside the measured wall time, as for the pipeline.
    from gitops_ml.config import Params
    from gitops_ml.model_metrics import Outcome, compute_metrics
    from gitops_ml.pipeline.interface import build_model, model_frame, score_frame

    times: dict[str, float] = {}
    start = time.perf_counter()
    params = Params.model_validate(yaml.safe_load(params_path.read_text()))
    schema = params.schema
    frame = pd.read_csv(params.data.path, engine="pyarrow")
    times["read_s"] = time.perf_counter() - start

    train, test = train_test_split(
        frame,
        test_size=params.split.test_size,
        random_state=params.split.seed,
        stratify=frame[schema.target] if params.split.stratify and schema.task.is_classification else None,
    )
    times["split_s"] = time.perf_counter() - start - sum(times.values())

    model = build_model(schema, params.train)
    model.fit(model_frame(train, schema), train[schema.target].to_numpy())
    times["fit_s"] = time.perf_counter() - start - sum(times.values())

    scores = score_frame(model, test, schema)
    outcome = Outcome.of(schema.task, test[schema.target].to_numpy(), scores, params.evaluate.threshold)
    metrics = compute_metrics(outcome)
    times["score_s"] = time.perf_counter() - start - sum(times.values())
    return {**times, **{f"metric_{name}": value for name, value in metrics.items()}}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "params.yaml"))))
