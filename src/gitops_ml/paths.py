"""Where each stage reads and writes, relative to the repository root. ``dvc.yaml`` declares the same paths."""

from pathlib import Path

DATA_DVC = Path("data.dvc")
VALIDATED = Path("artifacts/validated.parquet")
DATA_SUMMARY = Path("reports/data_summary.json")
TRAIN = Path("artifacts/train.parquet")
TEST = Path("artifacts/test.parquet")
MODEL = Path("models/model.skops")
MODEL_INFO = Path("models/model_info.json")
REPORTS = Path("reports")
METRICS = REPORTS / "metrics.json"
METRICS_CI = REPORTS / "metrics_ci.json"
PREDICTIONS = REPORTS / "predictions.parquet"
PLOTS = REPORTS / "plots"
DRIFT_REFERENCE = Path("artifacts/drift_reference.parquet")
DRIFT_JSON = REPORTS / "drift.json"
DRIFT_MD = REPORTS / "drift.md"
