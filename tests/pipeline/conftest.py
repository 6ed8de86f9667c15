"""Small in-memory data for fast unit tests of the stages."""

from __future__ import annotations

import pandas as pd
import pytest

from gitops_ml.config import Params, load_params
from gitops_ml.pipeline.split import split_frame
from gitops_ml.pipeline.validate import check_frame
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.sample import sample_generator


@pytest.fixture(scope="session")
def params() -> Params:
    """The shipped params.yaml."""
    return load_params(FIXTURE_PARAMS)


@pytest.fixture(scope="session")
def raw_frame() -> pd.DataFrame:
    """6,000 rows of the sample, as the raw CSV would read."""
    return sample_generator().generate_transactions(6000, seed=7)


@pytest.fixture(scope="session")
def typed_frame(raw_frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The sample after validation."""
    return check_frame(raw_frame, params.schema)


@pytest.fixture(scope="session")
def train_test(typed_frame: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The default split of the validated sample."""
    return split_frame(typed_frame, params.schema, params.split)
