"""``reports/gate.json``: the release gate's decision, what it compared and the rules it applied, as one typed model.

The gate job writes it (:func:`gitops_ml.gitops.gate_commands.run_gate`) and the later steps read it back through
:func:`read_gate_report` (``promote``, ``release-check``, ``release-notes``), so a field means the same thing on
both sides and a file this version did not write fails with the field named, never deep inside the release notes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from gitops_ml.config import GateParams
from gitops_ml.errors import ReleaseError
from gitops_ml.gitops.gate import GateDecision
from gitops_ml.io import read_json, write_json


class GateFacts(BaseModel):
    """What the gate found on its way to the decision: the commit, the rules, the champion, the test set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    commit: str
    """The commit the candidate was built from (HEAD when the gate ran)."""
    rules: GateParams
    """The ``gate:`` section of params.yaml the decision applied."""
    champion_tag: str | None = None
    champion_source: str | None = None
    """Where the champion's model came from: ``DVC cache``, ``DVC remote`` or ``reproduced``."""
    tag: str | None = None
    """The release tag (``model-vN``) the candidate gets when the gate releases it."""
    improvement_lower_bound: float | None = None
    """Bootstrap lower bound of the improvement (paired resamples of the test set), signed so that > 0 is better."""
    test_rows: int | None = None
    candidate_md5: str | None = None
    contract_changes: list[str] = []
    """How the data contract changed since the champion (non-empty: a new model line, judged on the floors)."""


class GateReport(GateFacts):
    """The body of ``reports/gate.json``: the facts and the decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    release: bool
    reasons: list[str]
    """One per rule checked, failures first, each starting ``PASS:`` or ``FAIL:``."""
    candidate: dict[str, float | None] = {}
    champion: dict[str, float | None] | None = None
    improvement: float | None = None
    """Candidate minus champion on the primary metric, signed so that > 0 is better."""

    @classmethod
    def of(cls, decision: GateDecision, facts: GateFacts) -> GateReport:
        """The report of ``decision``, reached with what ``facts`` records."""
        return cls.model_validate(facts.model_dump() | decision.to_json())

    def failures(self) -> list[str]:
        """The reasons that failed (``FAIL: ...``)."""
        return [reason for reason in self.reasons if reason.startswith("FAIL")]


def write_gate_report(path: Path, report: GateReport) -> Path:
    """Write ``report`` to ``path`` atomically, in the project's JSON format."""
    return write_json(path, report.model_dump(mode="json"))


def read_gate_report(path: Path) -> GateReport:
    """Read ``reports/gate.json``; :class:`~gitops_ml.errors.ReleaseError` naming the field when it is not valid."""
    if not path.is_file():
        raise ReleaseError(f"{path} not found; run `make gate` first")
    try:
        return GateReport.model_validate(read_json(path))
    except ValueError as exc:  # json.JSONDecodeError and pydantic's ValidationError are both ValueErrors
        raise ReleaseError(f"{path} is not a gate decision this version can read ({_first_problem(exc)}); "
                           "run `make gate` again") from None  # fmt: skip


def _first_problem(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        return f"{field}: {error['msg']}"
    return f"not JSON: {exc}"
