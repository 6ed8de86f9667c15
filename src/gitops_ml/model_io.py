"""Saving and loading the model with skops: no pickle, and only an explicit list of trusted types.

Loading refuses any type outside :data:`TRUSTED_TYPES`, so a model file from an untrusted place (a fork's
pull request, a tampered remote) cannot run code. If you add an estimator whose types are not listed, loading
fails with the type's name: review it and add it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gitops_ml.errors import UntrustedModelError
from gitops_ml.io import atomic_write

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Types skops does not trust by default that this project's estimators need.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
)


def save_model(model: Pipeline, path: Path | str) -> Path:
    """Write ``model`` to ``path`` in skops format, atomically."""
    import skops.io as sio  # imported here: it imports the whole of scikit-learn (seconds)

    with atomic_write(path) as tmp:
        sio.dump(model, tmp)
    return Path(path)


def load_model(path: Path | str) -> Pipeline:
    """Load a model saved by :func:`save_model`, refusing any type that is not explicitly trusted."""
    import skops.io as sio

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no model here; run `dvc repro` (or `make run`) first")
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises zipfile/JSON errors for a file that is not one of its own
        raise UntrustedModelError(f"{path} is not a readable skops model file: {exc}") from None
    refused = sorted(untrusted - set(TRUSTED_TYPES))
    if refused:
        raise UntrustedModelError(
            f"{path} contains types that are not trusted: {', '.join(refused)}. "
            "Review them and add them to TRUSTED_TYPES in src/gitops_ml/model_io.py if they are safe."
        )
    model = sio.load(path, trusted=sorted(untrusted))
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        raise UntrustedModelError(f"{path} holds a {type(model).__name__}, expected a sklearn Pipeline")
    return model
