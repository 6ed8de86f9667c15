"""Every action the workflows use has a stand-in for its exact pin (else act would try to fetch it from GitHub)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.act_runner import ROOT, STANDIN_DIR, STANDINS

pytestmark = pytest.mark.rehearsal


def used_actions() -> set[str]:
    """``owner/repo@ref`` of every ``uses:`` in .github/workflows (local ``./`` actions excluded)."""
    found = set()
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).values():
            found |= {s["uses"] for s in job.get("steps", []) if "uses" in s and not s["uses"].startswith("./")}
    return found


def test_every_pinned_action_has_a_stand_in() -> None:
    missing = sorted(used_actions() - STANDINS.keys())
    assert not missing, f"no stand-in for {missing}: add one to tests/rehearsal/standins and STANDINS"
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses) for uses in used_actions()), "pins are full SHAs"


def test_every_stand_in_is_a_composite_action() -> None:
    for directory in STANDINS.values():
        action = yaml.safe_load((STANDIN_DIR / directory / "action.yml").read_text())
        assert action["runs"]["using"] == "composite", directory
