"""The estimators ``train.estimator`` may name, each with its hyperparameters: the one place to add one.

Each estimator is one class here: a pydantic model of its hyperparameters (its section under ``train:`` in
params.yaml, typed and with unknown keys refused), three class-level declarations, and a
:meth:`~EstimatorParams.build` method that returns the unfitted scikit-learn classifier or regressor for the
project's task (``schema.task``). ``@register("name")`` puts it in :data:`ESTIMATORS`; everything else follows from
that registry: ``config.py`` builds ``train.estimator``'s choices and the ``train:`` sections (and refuses an
estimator that does not support ``schema.task``), ``train.py`` calls ``build``, ``model_io.py`` trusts the union of
the ``trusted_types`` when it loads a model, and the bento installs the ``packages`` of the model's estimator.

To add an estimator (say ``extra_trees``):

1. Write a class below, ``@register("extra_trees")``, deriving from :class:`EstimatorParams`: one field per
   hyperparameter, each with a default and its bounds (``Field(default=100, ge=1)``), and a ``build(task, seed)``
   that imports the estimator *inside* the method (every ``gitops-ml`` command reads the config, so a top-level
   import would slow them all down) and returns it unfitted, seeded with ``seed``: a classifier for a
   classification task (binary, multiclass), a regressor for regression. A tree model sets
   ``scale_numeric = False`` (its numbers then reach it unscaled).
2. Declare on the class what the machinery needs to know:
   ``tasks`` (the tasks it supports; default all three), ``trusted_types`` (the types of its fitted model that
   skops does not trust by default: save a fitted model and read them with ``skops.io.get_untrusted_types``; review
   each before listing it, since skops will build any listed type when it loads a file) and ``packages`` (the pip
   distributions, beyond scikit-learn, that load its model: they must be in ``uv.lock``, ``uv add <package>``).
3. Add an ``extra_trees:`` block under ``train:`` in params.yaml (optional: the defaults apply without it) and set
   ``train.estimator: extra_trees``. ``dvc repro`` retrains: ``train`` is a params dependency of the stage.

A classifier must have ``predict_proba`` and accept the class index (0 .. classes-1) as its target; the pipeline
puts it after the preprocessing of ``features.py``, which hands it a float matrix. Hyperparameters that only mean
something for classifiers (``class_weight``) are ignored when the task is regression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from gitops_ml.tasks import Task

DEFAULT_ESTIMATOR = "hist_gradient_boosting"
ALL_TASKS = frozenset(Task)
CLASSIFICATION = frozenset(task for task in Task if task.is_classification)
CLASSIFIER_ONLY = frozenset({"class_weight"})
"""Hyperparameters that only classifiers take: :meth:`EstimatorParams.arguments` leaves them out for regression."""


class EstimatorParams(BaseModel):
    """Hyperparameters of one estimator (unknown keys and silent coercions are errors, as everywhere in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: ClassVar[frozenset[Task]] = ALL_TASKS
    """The tasks ``build`` makes an estimator for."""
    trusted_types: ClassVar[tuple[str, ...]] = ()
    """Types of the fitted model beyond skops' defaults and the preprocessing's (``model_io.BASE_TRUSTED_TYPES``)."""
    packages: ClassVar[tuple[str, ...]] = ()
    """pip distributions the service needs, beyond its own (``bentofile.yaml``), to load the fitted model."""
    scale_numeric: ClassVar[bool] = True
    """Whether the numeric features are standardised before the estimator (``features.preprocessor``): linear
    models want it; trees split on raw values and do not (False)."""

    def build(self, task: Task, seed: int) -> Any:
        """The unfitted classifier (binary, multiclass) or regressor (regression) with these hyperparameters."""
        raise NotImplementedError

    def arguments(self, task: Task) -> dict[str, Any]:
        """The hyperparameters as keyword arguments for ``task`` (without the classifier-only ones for regression)."""
        return self.model_dump(exclude=None if task.is_classification else set(CLASSIFIER_ONLY))


ESTIMATORS: dict[str, type[EstimatorParams]] = {}
"""``train.estimator`` name -> its hyperparameters model, in the order params.yaml lists them."""


def register(name: str) -> Callable[[type[EstimatorParams]], type[EstimatorParams]]:
    """Class decorator: make the estimator selectable as ``train.estimator: <name>`` (a ``train.<name>`` section)."""

    def add(cls: type[EstimatorParams]) -> type[EstimatorParams]:
        if name in ESTIMATORS:
            raise ValueError(f"estimator '{name}' is registered twice")
        if not cls.tasks or not cls.tasks <= ALL_TASKS:
            raise ValueError(f"estimator '{name}' declares no tasks or unknown ones: {sorted(cls.tasks)}")
        ESTIMATORS[name] = cls
        return cls

    return add


def estimators_for(task: Task) -> list[str]:
    """The registered estimators that support ``task``, in registry order."""
    return [name for name, cls in ESTIMATORS.items() if task in cls.tasks]


@register("logistic_regression")
class LogisticRegressionParams(EstimatorParams):
    """Logistic regression (classification; ``ridge`` is the linear model for regression)."""

    tasks = CLASSIFICATION

    C: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=1000, ge=1)
    class_weight: Literal["balanced"] | None = "balanced"

    def build(self, task: Task, seed: int) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **self.arguments(task))


@register("ridge")
class RidgeParams(EstimatorParams):
    """Linear least squares with an L2 penalty (regression; ``logistic_regression`` is the one for classes)."""

    tasks = frozenset({Task.REGRESSION})

    alpha: float = Field(default=1.0, ge=0)

    def build(self, task: Task, seed: int) -> Any:
        from sklearn.linear_model import Ridge

        return Ridge(random_state=seed, **self.arguments(task))


@register("random_forest")
class RandomForestParams(EstimatorParams):
    trusted_types = ("sklearn.tree._tree.Tree",)
    scale_numeric = False

    n_estimators: int = Field(default=200, ge=1)
    max_depth: int | None = Field(default=12, ge=1)
    min_samples_leaf: int = Field(default=2, ge=1)
    class_weight: Literal["balanced", "balanced_subsample"] | None = "balanced_subsample"
    n_jobs: int = -1

    def build(self, task: Task, seed: int) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        make = RandomForestClassifier if task.is_classification else RandomForestRegressor
        return make(random_state=seed, **self.arguments(task))


@register("hist_gradient_boosting")
class HistGradientBoostingParams(EstimatorParams):
    trusted_types = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
    scale_numeric = False

    learning_rate: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=200, ge=1)
    max_leaf_nodes: int = Field(default=31, ge=2)
    l2_regularization: float = Field(default=0.0, ge=0)
    class_weight: Literal["balanced"] | None = None

    def build(self, task: Task, seed: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        make = HistGradientBoostingClassifier if task.is_classification else HistGradientBoostingRegressor
        # No early stopping: it would hold out a random slice of the training data and make max_iter a ceiling.
        return make(random_state=seed, early_stopping=False, **self.arguments(task))


@register("lightgbm")
class LightGBMParams(EstimatorParams):
    """LightGBM's gradient-boosted trees (the CPU build from PyPI)."""

    trusted_types = (
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
    )
    packages = ("lightgbm",)
    scale_numeric = False

    n_estimators: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    num_leaves: int = Field(default=31, ge=2)
    min_child_samples: int = Field(default=20, ge=1)
    reg_lambda: float = Field(default=0.0, ge=0)
    colsample_bytree: float = Field(default=1.0, gt=0, le=1)
    class_weight: Literal["balanced"] | None = None
    n_jobs: int = Field(default=1, ge=1)
    """Threads for training and scoring. LightGBM's default (every core) made a small fit 20 times slower on a busy
    2-core machine, and the service scores one batch at a time per worker: raise it on a dedicated training host."""

    def build(self, task: Task, seed: int) -> Any:
        from lightgbm import LGBMClassifier, LGBMRegressor

        make = LGBMClassifier if task.is_classification else LGBMRegressor
        return make(random_state=seed, verbose=-1, **self.arguments(task))


@register("xgboost")
class XGBoostParams(EstimatorParams):
    """XGBoost's gradient-boosted trees (``xgboost-cpu`` from PyPI: the same API without the CUDA libraries)."""

    trusted_types = ("xgboost.core.Booster", "xgboost.sklearn.XGBClassifier", "xgboost.sklearn.XGBRegressor")
    packages = ("xgboost-cpu",)
    scale_numeric = False

    n_estimators: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    max_depth: int = Field(default=6, ge=1)
    min_child_weight: float = Field(default=1.0, ge=0)
    reg_lambda: float = Field(default=1.0, ge=0)
    subsample: float = Field(default=1.0, gt=0, le=1)
    colsample_bytree: float = Field(default=1.0, gt=0, le=1)
    n_jobs: int = Field(default=1, ge=1)
    """Threads for training and scoring (1 suits a shared 2-core host and one model call per service worker)."""

    def build(self, task: Task, seed: int) -> Any:
        from xgboost import XGBClassifier, XGBRegressor

        make = XGBClassifier if task.is_classification else XGBRegressor
        return make(random_state=seed, verbosity=0, **self.arguments(task))


@register("dummy")
class DummyParams(EstimatorParams):
    """A sanity baseline that ignores the features."""

    scale_numeric = False

    strategy: Literal["prior", "most_frequent", "stratified", "uniform"] = "prior"
    """Classification: what the baseline predicts (``prior``: the training class shares)."""
    regression_strategy: Literal["mean", "median"] = "mean"
    """Regression: the training target's mean or median, for every row."""

    def build(self, task: Task, seed: int) -> Any:
        from sklearn.dummy import DummyClassifier, DummyRegressor

        if task.is_classification:
            return DummyClassifier(random_state=seed, strategy=self.strategy)
        return DummyRegressor(strategy=self.regression_strategy)
