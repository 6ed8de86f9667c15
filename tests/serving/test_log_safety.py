"""The server's log filters, on real ``logging`` records: one line each, control characters escaped, client
errors as one WARNING without traceback or the caller's input."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from bentoml.exceptions import BadInput
from pydantic import BaseModel, ConfigDict, ValidationError

from gitops_ml.serving.log_safety import (
    MAX_FIELD_CHARS,
    MAX_MESSAGE_CHARS,
    ClientErrorRecords,
    OneLineRecords,
    client_error,
    install,
)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing ``LEVEL message`` lines to a buffer through a handler with the filters installed."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"test-log-safety-{id(buffer)}")
    logger.propagate = False
    logger.addHandler(handler)
    install([handler], logger)
    install([handler], logger)  # twice: still one filter each
    assert len(handler.filters) == 1 and len(logger.filters) == 1
    yield logger, buffer
    logger.removeHandler(handler)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hour: int


def validation_error(payload: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as error:
        Record.model_validate(payload)
    return error.value


def test_a_value_with_a_newline_cannot_start_a_line(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    logger.warning("path=%s", "/x\n2026-01-01 [INFO] forged\x00\x1b[31m\r")
    assert buffer.getvalue() == "WARNING path=/x\\x0a2026-01-01 [INFO] forged\\x00\\x1b[31m\\x0d\n"


def test_a_long_message_is_cut(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    logger.warning("%s", "a" * (MAX_MESSAGE_CHARS + 10))
    assert len(buffer.getvalue()) < MAX_MESSAGE_CHARS + 100
    assert "(10 more characters not shown)" in buffer.getvalue()


def test_a_traceback_is_indented_so_no_line_passes_for_a_record(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    try:
        raise RuntimeError("boom\n2026-01-01 [INFO] forged")
    except RuntimeError:
        logger.exception("unexpected")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "ERROR unexpected"
    assert all(line.startswith("    | ") for line in lines[1:]), lines
    assert any("forged" in line for line in lines[1:])


def test_a_validation_error_is_one_warning_without_traceback_or_input(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = logged
    key = "k" * 500 + "\nFORGED"
    try:
        Record.model_validate({"hour": "Z" * 5_000, key: 1})
    except ValidationError:
        logger.error("Exception on %s [%s]", "/predict", "POST", exc_info=True)
    text = buffer.getvalue()
    assert text.count("\n") == 1, text
    assert text.startswith("WARNING refused /predict [POST] with 400: 2 validation error(s): hour: ")
    assert "Traceback" not in text and "Z" * 20 not in text
    assert "k" * MAX_FIELD_CHARS in text and "k" * (MAX_FIELD_CHARS + 1) not in text


def test_a_client_error_of_bentoml_is_one_warning_and_a_server_error_keeps_its_traceback(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = logged
    for error in (BadInput("bad body: " + "x" * 500), RuntimeError("server bug")):
        try:
            raise error
        except Exception:
            logger.error("Exception on %s [%s]", "/predict", "POST", exc_info=True)
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("WARNING refused /predict [POST] with 400: bad body: xxx")
    assert len(lines[0]) < 250
    assert lines[1] == "ERROR Exception on /predict [POST]"
    assert "Traceback" in lines[2] and "server bug" in lines[-1]


def test_what_counts_as_a_client_error() -> None:
    assert client_error(None) is None
    assert client_error(RuntimeError("x")) is None
    assert client_error(BadInput("x")) == (400, "x")
    status, summary = client_error(validation_error({})) or (0, "")
    assert (status, summary) == (400, "1 validation error(s): hour: Field required")


def test_filters_keep_every_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("only one",), None)  # a bad format
    assert OneLineRecords().filter(record)
    assert ClientErrorRecords().filter(logging.LogRecord("x", logging.INFO, __file__, 1, "fine", None, None))
