"""Validation of the CI artifact that the comment workflow downloads from a (possibly forked) pull request.

The artifact was written by code the pull request controls, so nothing in it is trusted: the PR number must
be digits, the head SHA must equal the SHA of the workflow run that triggered the comment workflow, and
``report.json`` must match :class:`~gitops_ml.gitops.report.Report`. The comment is then re-rendered from
that data by this repository's own code; the artifact's Markdown is never posted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from gitops_ml.errors import ArtifactError

if TYPE_CHECKING:  # the report model imports pandas: only when an artifact is validated
    from gitops_ml.gitops.report import Report

PR_FILE = "pr.json"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
MAX_FILE_BYTES = 5_000_000
_PR_NUMBER = re.compile(r"^[1-9][0-9]{0,9}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ValidArtifact:
    """What the comment workflow may use: a PR number and a schema-valid report."""

    pr_number: int
    head_sha: str
    report: Report


def _read_json(directory: Path, name: str) -> object:
    path = directory / name
    if not path.is_file() or path.is_symlink():
        raise ArtifactError(f"{name}: missing from the artifact (expected a regular file in {directory})")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ArtifactError(f"{name}: larger than {MAX_FILE_BYTES} bytes; refusing to read it")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8: byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}"
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        problem = "nested too deeply"
    except ValueError:  # a number of more than 4,300 digits (Python's int-parsing limit), or another value it refuses
        problem = "a value that cannot be read (a number with thousands of digits?)"
    raise ArtifactError(f"{name}: not valid JSON ({problem}); the artifact is refused")


def _shortened(part: object, limit: int = 60) -> str:
    """A part of an error's location (a key from the artifact can be any length) cut to ``limit`` characters."""
    text = str(part)
    return text if len(text) <= limit else text[:limit] + "…"


def pr_metadata(pr_number: str | int, head_sha: str) -> dict[str, str]:
    """The body of ``pr.json``, checked the same way the validator checks it."""
    number, sha = str(pr_number).strip(), head_sha.strip().lower()
    if not _PR_NUMBER.fullmatch(number):
        raise ArtifactError(f"pr_number: {number!r} is not a pull-request number (digits only)")
    if not _SHA.fullmatch(sha):
        raise ArtifactError(f"head_sha: {head_sha!r} is not a 40-character hexadecimal commit SHA")
    return {"pr_number": number, "head_sha": sha}


def validate_artifact(directory: Path, expected_head_sha: str) -> ValidArtifact:
    """Check the downloaded artifact in ``directory`` against the triggering run's ``expected_head_sha``."""
    if not _SHA.fullmatch(expected_head_sha.strip().lower()):
        raise ArtifactError(f"expected head SHA {expected_head_sha!r} is not a 40-character hexadecimal SHA")
    meta = _read_json(directory, PR_FILE)
    if not isinstance(meta, dict) or set(meta) != {"pr_number", "head_sha"}:
        raise ArtifactError(f"{PR_FILE}: expected exactly the keys pr_number and head_sha")
    if not isinstance(meta["pr_number"], str) or not isinstance(meta["head_sha"], str):
        raise ArtifactError(f"{PR_FILE}: pr_number and head_sha must be strings")
    checked = pr_metadata(meta["pr_number"], meta["head_sha"])
    if checked["pr_number"] != meta["pr_number"] or checked["head_sha"] != meta["head_sha"]:
        raise ArtifactError(f"{PR_FILE}: pr_number and head_sha must be written without spaces, SHA in lower case")
    if checked["head_sha"] != expected_head_sha.strip().lower():
        raise ArtifactError(
            f"{PR_FILE}: head_sha {checked['head_sha']} is not the SHA of the run that triggered this workflow "
            f"({expected_head_sha}); refusing to comment"
        )
    try:
        from gitops_ml.gitops.report import Report

        report = Report.model_validate(_read_json(directory, REPORT_JSON))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(_shortened(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_input=False)[:10]
        )
        raise ArtifactError(f"{REPORT_JSON}: does not match the report schema ({problems})") from None
    return ValidArtifact(pr_number=int(checked["pr_number"]), head_sha=checked["head_sha"], report=report)
