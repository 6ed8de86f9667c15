"""What every stand-in action needs from the runner: its inputs, outputs, PATH/env files, logging, failing.

The stand-ins are composite actions whose one step runs a script here with the rehearsal's Python. Inputs arrive
as ``INPUT_<NAME>`` variables set by the action's ``env:`` (the composite runner does not set them itself);
outputs go to ``$GITHUB_OUTPUT`` like any step's. The runner-machine settings the harness provides
(``REHEARSAL_*``) are read with :func:`setting`, which fails clearly when the harness did not set one.
Only the standard library is used: the stand-ins run before the project's environment exists.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn


def get_input(name: str, required: bool = False) -> str:
    """The input ``name`` (as the action's ``env:`` passed it), stripped; fail if ``required`` and empty."""
    value = os.environ.get(f"INPUT_{name.upper().replace('-', '_')}", "").strip()
    if required and not value:
        fail(f"Input required and not supplied: {name}")
    return value


def get_bool(name: str) -> bool:
    """A boolean input, with the YAML 1.2 core-schema spellings the real toolkit accepts."""
    value = get_input(name)
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE", ""):
        return False
    fail(f'Input does not meet YAML 1.2 "Core Schema" specification: {name} (got {value!r})')


def get_lines(name: str) -> list[str]:
    """A multi-line (or comma-separated for ``tags``-like inputs) input as a list of non-empty lines."""
    return [line.strip() for line in get_input(name).splitlines() if line.strip()]


def setting(name: str) -> str:
    """A runner-machine setting the rehearsal harness provides (``REHEARSAL_<NAME>``)."""
    value = os.environ.get(f"REHEARSAL_{name}", "")
    if not value:
        fail(f"REHEARSAL_{name} is not set: stand-ins run only under the harness (tests/support/act_runner.py)")
    return value


def set_output(name: str, value: str) -> None:
    """Append ``name=value`` to ``$GITHUB_OUTPUT`` (single-line values only)."""
    if "\n" in value:
        raise ValueError(f"output {name} must be one line")
    with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")


def add_path(directory: Path) -> None:
    """Prepend ``directory`` to PATH for the job's later steps (``$GITHUB_PATH``)."""
    with Path(os.environ["GITHUB_PATH"]).open("a", encoding="utf-8") as handle:
        handle.write(f"{directory}\n")


def export_variable(name: str, value: str) -> None:
    """Set ``name`` for the job's later steps (``$GITHUB_ENV``)."""
    with Path(os.environ["GITHUB_ENV"]).open("a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")


def record(kind: str, entry: dict) -> None:
    """Append ``entry`` (plus the run's identity) to ``<records>/<kind>.jsonl`` for the test to read."""
    context = {
        key: os.environ.get(f"GITHUB_{key.upper()}", "")
        for key in ("repository", "workflow", "job", "run_id", "run_attempt", "sha", "ref", "event_name")
    }
    path = Path(setting("RECORDS")) / f"{kind}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry | {"context": context}, sort_keys=True) + "\n")


def info(message: str) -> None:
    """A line in the step's log."""
    print(message, flush=True)


def warning(message: str) -> None:
    """A workflow-command warning (shown by act as ``::warning::``)."""
    print(f"::warning::{message}", flush=True)


def fail(message: str) -> NoReturn:
    """An ``::error::`` line and exit 1, which fails the step like a real action's ``core.setFailed``."""
    print(f"::error::{message}", flush=True)
    sys.exit(1)
