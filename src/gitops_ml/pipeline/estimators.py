"""The estimators ``train.estimator`` may name, each with its hyperparameters: the one place to add one.

Each estimator is one class here: a pydantic model of its hyperparameters (its section under ``train:`` in
params.yaml, typed and with unknown keys refused) with a :meth:`~EstimatorParams.build` method that returns the
unfitted scikit-learn classifier. ``@register("name")`` puts it in :data:`ESTIMATORS`; ``config.py`` builds
``train.estimator``'s choices and the ``train:`` sections from that registry, and ``train.py`` calls ``build``.

To add an estimator (say ``extra_trees``):

1. Write a class below, ``@register("extra_trees")``, deriving from :class:`EstimatorParams`: one field per
   hyperparameter, each with a default and its bounds (``Field(default=100, ge=1)``), and a ``build(seed)`` that
   imports the classifier *inside* the method (every ``gitops-ml`` command reads the config, so a top-level import
   would slow them all down) and returns it unfitted, seeded with ``seed``.
2. Add an ``extra_trees:`` block under ``train:`` in params.yaml (optional: the defaults apply without it) and set
   ``train.estimator: extra_trees``. ``dvc repro`` retrains: ``train`` is a params dependency of the stage.
3. If loading the saved model then fails with "types that are not trusted", review the named types and add them
   to ``TRUSTED_TYPES`` in ``gitops_ml/model_io.py`` (skops never loads a type it was not told to trust).

The classifier must have ``predict_proba``; the pipeline puts it after the preprocessing of ``features.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ESTIMATOR = "hist_gradient_boosting"


class EstimatorParams(BaseModel):
    """Hyperparameters of one estimator (unknown keys and silent coercions are errors, as everywhere in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def build(self, seed: int) -> Any:
        """The unfitted classifier with these hyperparameters, seeded with ``seed``."""
        raise NotImplementedError


ESTIMATORS: dict[str, type[EstimatorParams]] = {}
"""``train.estimator`` name -> its hyperparameters model, in the order params.yaml lists them."""


def register(name: str) -> Callable[[type[EstimatorParams]], type[EstimatorParams]]:
    """Class decorator: make the estimator selectable as ``train.estimator: <name>`` (a ``train.<name>`` section)."""

    def add(cls: type[EstimatorParams]) -> type[EstimatorParams]:
        if name in ESTIMATORS:
            raise ValueError(f"estimator '{name}' is registered twice")
        ESTIMATORS[name] = cls
        return cls

    return add


@register("logistic_regression")
class LogisticRegressionParams(EstimatorParams):
    C: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=1000, ge=1)
    class_weight: Literal["balanced"] | None = "balanced"

    def build(self, seed: int) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **self.model_dump())


@register("random_forest")
class RandomForestParams(EstimatorParams):
    n_estimators: int = Field(default=200, ge=1)
    max_depth: int | None = Field(default=12, ge=1)
    min_samples_leaf: int = Field(default=2, ge=1)
    class_weight: Literal["balanced", "balanced_subsample"] | None = "balanced_subsample"
    n_jobs: int = -1

    def build(self, seed: int) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, **self.model_dump())


@register("hist_gradient_boosting")
class HistGradientBoostingParams(EstimatorParams):
    learning_rate: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=200, ge=1)
    max_leaf_nodes: int = Field(default=31, ge=2)
    l2_regularization: float = Field(default=0.0, ge=0)
    class_weight: Literal["balanced"] | None = None

    def build(self, seed: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        # No early stopping: it would hold out a random slice of the training data and make max_iter a ceiling.
        return HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **self.model_dump())


@register("dummy")
class DummyParams(EstimatorParams):
    """A sanity baseline that ignores the features."""

    strategy: Literal["prior", "most_frequent", "stratified", "uniform"] = "prior"

    def build(self, seed: int) -> Any:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(random_state=seed, **self.model_dump())


# Stand-ins for the LightGBM and XGBoost entries of issue #20 (binary only, as this branch's stages): the Dask
# engine trains these two across the workers (compute/boosting.py). The estimators' own entries replace them.
@register("lightgbm")
class LightGBMParams(EstimatorParams):
    n_estimators: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    num_leaves: int = Field(default=31, ge=2)
    n_jobs: int = 1  # LightGBM's default (every core) is many times slower on a busy machine

    def build(self, seed: int) -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(random_state=seed, verbose=-1, **self.model_dump())


@register("xgboost")
class XGBoostParams(EstimatorParams):
    n_estimators: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    max_depth: int = Field(default=6, ge=1)
    n_jobs: int = 1

    def build(self, seed: int) -> Any:
        from xgboost import XGBClassifier

        return XGBClassifier(random_state=seed, tree_method="hist", **self.model_dump())
