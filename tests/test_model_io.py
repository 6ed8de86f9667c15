"""Model files: skops only, and a file with an untrusted type or no skops content is refused with the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from gitops_ml.model_io import UntrustedModelError, load_model, save_model


def shout(values):  # a plain function: skops must not trust it by default
    return values


def fitted(*steps) -> Pipeline:
    x = np.arange(40, dtype=float).reshape(20, 2)
    return Pipeline([*steps, ("lr", LogisticRegression())]).fit(x, np.arange(20) % 2)


def test_round_trip(tmp_path: Path) -> None:
    model = fitted()
    loaded = load_model(save_model(model, tmp_path / "m.skops"))
    np.testing.assert_allclose(loaded.predict_proba([[1.0, 2.0]]), model.predict_proba([[1.0, 2.0]]))


def test_untrusted_type_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "m.skops"
    sio.dump(fitted(("f", FunctionTransformer(shout))), path)
    with pytest.raises(UntrustedModelError, match=r"not trusted: .*shout.*trusted_types \(src/.*/estimators.py\)"):
        load_model(path)


def test_not_a_skops_file(tmp_path: Path) -> None:
    path = tmp_path / "m.skops"
    path.write_bytes(b"\x80\x04pickle bytes, not a zip")
    with pytest.raises(UntrustedModelError, match="not a readable skops model file"):
        load_model(path)


def test_not_a_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "m.skops"
    sio.dump(LogisticRegression(), path)
    with pytest.raises(UntrustedModelError, match="expected a sklearn Pipeline"):
        load_model(path)


def test_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `dvc repro`"):
        load_model(tmp_path / "absent.skops")


def test_the_same_model_always_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = fitted(), fitted()  # equal models, different objects (skops would name members by id())
    assert sio.dumps(first) != sio.dumps(second)
    a = save_model(first, tmp_path / "a.skops").read_bytes()
    b = save_model(second, tmp_path / "b.skops").read_bytes()
    assert a == b
    np.testing.assert_allclose(
        load_model(tmp_path / "b.skops").predict_proba([[3.0, 4.0]]), first.predict_proba([[3.0, 4.0]])
    )
