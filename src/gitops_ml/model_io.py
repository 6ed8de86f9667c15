"""Saving and loading the model with skops: no pickle, and only an explicit list of trusted types.

Loading refuses any type outside :data:`TRUSTED_TYPES`, so a model file from an untrusted place (a fork's
pull request, a tampered remote) cannot run code. If you add an estimator whose types are not listed, loading
fails with the type's name: review it and add it here.
"""

from __future__ import annotations

import io
import re
import zipfile
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
    # LightGBM and XGBoost (stand-ins until issue #20's estimator entries declare their own)
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
)


def canonical_skops(raw: bytes) -> bytes:
    """The same skops archive, byte-for-byte reproducible: the same model always gives the same file.

    skops names the archive's members and references after ``id()`` of the in-memory objects and stamps the
    current time on each member, so dumping an identical model twice gives different bytes (and a new md5 in
    ``dvc.lock`` on every retrain). Here the ids are renumbered in order of first appearance in ``schema.json``
    and every member gets a fixed timestamp; the content is untouched, so loading gives the same model.
    """
    renumbered: dict[str, str] = {}

    def new_id(old: str) -> str:
        return renumbered.setdefault(old, str(len(renumbered) + 1))

    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        schema = source.read("schema.json").decode("utf-8")
        schema = re.sub(r'("__id__": )(\d+)', lambda m: m.group(1) + new_id(m.group(2)), schema)
        # arrays are files named by id (``<id>.npy``); bytes (an XGBoost booster) by a random uuid (``<uuid>.bin``)
        schema = re.sub(r'("file": ")([^".]+)(\.\w+")', lambda m: m.group(1) + new_id(m.group(2)) + m.group(3), schema)
        members = {"schema.json": schema.encode("utf-8")}
        for name in source.namelist():
            if name != "schema.json":
                stem, _, suffix = name.partition(".")
                members[f"{renumbered[stem]}.{suffix}"] = source.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for name in sorted(members):
            target.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), members[name])
    return out.getvalue()


def save_model(model: Pipeline, path: Path | str) -> Path:
    """Write ``model`` to ``path`` in skops format, atomically and reproducibly (see :func:`canonical_skops`)."""
    import skops.io as sio  # imported here: it imports the whole of scikit-learn (seconds)

    data = canonical_skops(sio.dumps(model))
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
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
