"""Saving and loading the model with skops: no pickle, and only an explicit list of trusted types.

Loading refuses any type outside :data:`TRUSTED_TYPES`, so a model file from an untrusted place (a fork's
pull request, a tampered remote) cannot run code. That list is the preprocessing's types plus the ``trusted_types``
each estimator declares in ``pipeline/estimators.py``: an estimator whose fitted model holds a type it does not
declare fails to load, naming the type. skops' ``trusted=True`` (trust anything) is never used.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_ml.config import TrainParams
from gitops_ml.errors import UntrustedModelError
from gitops_ml.io import atomic_write

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

BASE_TRUSTED_TYPES: tuple[str, ...] = ("numpy.dtype",)
"""Types skops does not trust by default that the preprocessing (``pipeline/features.py``) needs."""
TRUSTED_TYPES: tuple[str, ...] = BASE_TRUSTED_TYPES + tuple(sorted(TrainParams.trusted_types() - {*BASE_TRUSTED_TYPES}))
"""The types :func:`load_model` lets skops build beyond its defaults: the preprocessing's and every estimator's."""


def canonical_skops(raw: bytes) -> bytes:
    """The same skops archive, byte-for-byte reproducible: the same model always gives the same file.

    skops names the archive's members and references after ``id()`` of the in-memory objects (or a random uuid)
    and stamps the current time on each member, so dumping an identical model twice gives different bytes (and a
    new md5 in ``dvc.lock`` on every retrain). Here the ids (and uuids) are renumbered in order of first appearance
    in ``schema.json`` and every member gets a fixed timestamp; the content is untouched, so loading gives the same
    model.
    """
    renumbered: dict[str, str] = {}

    def new_id(old: str) -> str:
        return renumbered.setdefault(old, str(len(renumbered) + 1))

    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        schema = source.read("schema.json").decode("utf-8")
        schema = re.sub(r'("__id__": )(\d+)', lambda m: m.group(1) + new_id(m.group(2)), schema)
        # Arrays are named after their id (.npy, .npz), raw bytes (an XGBoost booster) after a random uuid (.bin).
        schema = re.sub(r'("file": ")([^"./]+)(\.\w+")', lambda m: m.group(1) + new_id(m.group(2)) + m.group(3), schema)
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
            f"{path} contains types that are not trusted: {', '.join(refused)}. If the model is yours and its "
            "estimator is new, review each type and, if it is safe, list it in the estimator's trusted_types "
            "(src/gitops_ml/pipeline/estimators.py)."
        )
    model = sio.load(path, trusted=sorted(untrusted))
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        raise UntrustedModelError(f"{path} holds a {type(model).__name__}, expected a sklearn Pipeline")
    return model
