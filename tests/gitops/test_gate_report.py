"""reports/gate.json goes through one typed model: what the gate writes is what promote and the notes read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_ml.config import GateParams
from gitops_ml.errors import ReleaseError
from gitops_ml.gitops.gate import decide, refuse
from gitops_ml.gitops.gate_report import GateFacts, GateReport, read_gate_report, write_gate_report

RULES = GateParams(primary_metric="roc_auc", min_improvement=0.01, guards={}, floors={"roc_auc": 0.5})


def test_a_report_written_is_the_report_read(tmp_path: Path) -> None:
    facts = GateFacts(commit="c" * 40, rules=RULES, champion_tag="model-v1", test_rows=200)
    facts.tag, facts.improvement_lower_bound = "model-v2", 0.02
    report = GateReport.of(decide({"roc_auc": 0.9}, {"roc_auc": 0.8}, RULES, 0.02), facts)
    path = write_gate_report(tmp_path / "gate.json", report)
    assert read_gate_report(path) == report
    written = json.loads(path.read_text())
    assert written["rules"] == RULES.model_dump(mode="json")
    assert (written["release"], written["tag"], written["improvement"]) == (True, "model-v2", pytest.approx(0.1))
    assert set(written) == set(GateReport.model_fields)


def test_failures_are_the_failed_reasons() -> None:
    report = GateReport.of(refuse("no candidate model"), GateFacts(commit="c" * 40, rules=RULES))
    assert report.failures() == ["FAIL: no candidate model"]
    assert not report.release


def test_facts_are_checked_when_set() -> None:
    facts = GateFacts(commit="c" * 40, rules=RULES)
    with pytest.raises(ValueError, match="test_rows"):
        facts.test_rows = "many"  # the wrong type on purpose


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"release": True, "reasons": []}), "commit: Field required"),
        (json.dumps({"release": True, "reasons": [], "commit": "c", "rules": {"primary_metric": "auc"}}),
         "rules.primary_metric"),
        (json.dumps({"release": "perhaps", "reasons": [], "commit": "c", "rules": {}}), "release:"),
    ],
)  # fmt: skip
def test_a_file_this_version_did_not_write_is_refused_naming_the_field(tmp_path: Path, content, problem) -> None:
    path = tmp_path / "gate.json"
    path.write_text(content)
    with pytest.raises(ReleaseError, match="is not a gate decision this version can read") as error:
        read_gate_report(path)
    assert problem in str(error.value)
    assert "run `make gate` again" in str(error.value)


def test_a_missing_file_says_to_run_the_gate(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"gate\.json not found; run `make gate` first"):
        read_gate_report(tmp_path / "gate.json")
