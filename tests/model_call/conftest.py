"""The stages' small in-memory sample (tests/pipeline/conftest.py), which the model call's tests fit models on."""

from tests.pipeline.conftest import params, raw_frame, train_test, typed_frame

__all__ = ["params", "raw_frame", "train_test", "typed_frame"]
