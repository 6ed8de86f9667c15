"""The gate's rules (pure): properties with hypothesis, and one example per reason."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gitops_ml.config import GateParams
from gitops_ml.gitops.gate import decide, refuse
from gitops_ml.model_metrics import higher_is_better, metric_names
from gitops_ml.tasks import Task

METRIC_NAMES = metric_names(Task.BINARY)
HIGHER_IS_BETTER = {name: higher_is_better(name, Task.BINARY) for name in METRIC_NAMES}

GOOD = {"roc_auc": 0.90, "average_precision": 0.50, "recall": 0.60, "f1": 0.5, "log_loss": 0.2}
RULES = GateParams(
    primary_metric="average_precision",
    min_improvement=0.01,
    guards={"roc_auc": 0.01, "recall": 0.05},
    floors={"roc_auc": 0.75, "average_precision": 0.2},
)

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
metrics = st.fixed_dictionaries(dict.fromkeys(METRIC_NAMES, unit))
rules = st.builds(
    GateParams,
    primary_metric=st.sampled_from(METRIC_NAMES),
    min_improvement=st.floats(min_value=0, max_value=0.2),
    guards=st.dictionaries(st.sampled_from(METRIC_NAMES), st.floats(min_value=0, max_value=0.2), max_size=3),
    floors=st.dictionaries(st.sampled_from(METRIC_NAMES), unit, max_size=3),
    require_significant=st.booleans(),
)


def failures(decision) -> list[str]:
    return [r for r in decision.reasons if r.startswith("FAIL")]


# --- properties -------------------------------------------------------------------------------------


@given(metrics, rules)
def test_a_tie_never_releases(same, gate_rules):
    assert decide(same, dict(same), gate_rules, improvement_lower_bound=1.0).release is False


@given(metrics, metrics, rules, st.one_of(st.none(), st.floats(allow_nan=True)))
def test_release_iff_no_failed_reason_and_failures_come_first(cand, champ, gate_rules, bound):
    decision = decide(cand, champ, gate_rules, bound)
    failed = failures(decision)
    assert decision.release == (not failed)
    assert decision.reasons[: len(failed)] == failed
    assert all(r.startswith(("PASS: ", "FAIL: ")) for r in decision.reasons)
    json.dumps(decision.to_json(), allow_nan=False)  # always valid JSON


@given(metrics, metrics, rules)
def test_release_implies_every_rule_holds(cand, champ, gate_rules):
    decision = decide(cand, champ, gate_rules, improvement_lower_bound=0.5)
    assume(decision.release)
    sign = {n: 1 if HIGHER_IS_BETTER[n] else -1 for n in METRIC_NAMES}
    primary = gate_rules.primary_metric
    gain = sign[primary] * (cand[primary] - champ[primary])
    assert gain > 0
    assert gain >= gate_rules.min_improvement
    assert decision.improvement == pytest.approx(gain)
    for name, allowed in gate_rules.guards.items():
        assert sign[name] * (champ[name] - cand[name]) <= allowed
    for name, floor in gate_rules.floors.items():
        assert sign[name] * (cand[name] - floor) >= 0


@given(metrics, rules, st.data())
def test_a_bad_value_of_a_checked_metric_never_releases(cand, gate_rules, data):
    name = data.draw(st.sampled_from(sorted({gate_rules.primary_metric, *gate_rules.guards, *gate_rules.floors})))
    bad = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, None]))
    champ = dict(cand)
    assert decide(cand | {name: bad}, champ, gate_rules, 1.0).release is False
    assert decide({k: v for k, v in cand.items() if k != name}, champ, gate_rules, 1.0).release is False
    if name in gate_rules.floors:
        assert decide(cand | {name: bad}, None, gate_rules).release is False
    if name != gate_rules.primary_metric and name not in gate_rules.guards:
        return  # a floor-only metric is not read from the champion
    assert decide(cand, champ | {name: bad}, gate_rules, 1.0).release is False


@given(metrics, metrics, rules, st.floats(min_value=-1, max_value=0))
def test_require_significant_blocks_a_non_positive_lower_bound(cand, champ, gate_rules, bound):
    strict = gate_rules.model_copy(update={"require_significant": True})
    assert decide(cand, champ, strict, bound).release is False
    assert decide(cand, champ, strict, None).release is False


@given(metrics, rules)
def test_first_release_depends_on_floors_only(cand, gate_rules):
    decision = decide(cand, None, gate_rules)
    sign = {n: 1 if HIGHER_IS_BETTER[n] else -1 for n in METRIC_NAMES}
    above = all(sign[n] * (cand[n] - floor) >= 0 for n, floor in gate_rules.floors.items())
    assert decision.release == above
    assert decision.improvement is None
    assert decision.champion is None


# --- one example per reason ---------------------------------------------------------------------------


def test_first_release_passes_the_floors():
    decision = decide(GOOD, None, RULES)
    assert decision.release is True
    assert any("first release" in r for r in decision.reasons)


def test_first_release_below_a_floor_does_not_release():
    decision = decide(GOOD | {"roc_auc": 0.7}, None, RULES)
    assert decision.release is False
    assert failures(decision) == ["FAIL: candidate roc_auc 0.7000 is not at least the floor 0.75"]


def test_log_loss_floor_is_a_ceiling():
    rules = RULES.model_copy(update={"floors": {"log_loss": 0.3}})
    assert decide(GOOD | {"log_loss": 0.25}, None, rules).release is True
    decision = decide(GOOD | {"log_loss": 0.35}, None, rules)
    assert failures(decision) == ["FAIL: candidate log_loss 0.3500 is not at most the floor 0.3"]


def test_clear_improvement_releases():
    decision = decide(GOOD | {"average_precision": 0.55}, GOOD, RULES)
    assert decision.release is True
    assert decision.improvement == pytest.approx(0.05)
    assert "improves" in decision.reasons[2]


def test_improvement_below_the_margin_does_not_release():
    decision = decide(GOOD | {"average_precision": 0.505}, GOOD, RULES)
    assert decision.release is False
    assert "needs > 0 and >= 0.01" in failures(decision)[0]


def test_tie_with_zero_margin_does_not_release():
    rules = RULES.model_copy(update={"min_improvement": 0.0})
    decision = decide(GOOD, GOOD, rules)
    assert decision.release is False
    assert "ties" in failures(decision)[0]


def test_regression_does_not_release():
    decision = decide(GOOD | {"average_precision": 0.4}, GOOD, RULES)
    assert "regresses" in failures(decision)[0]


def test_lower_is_better_primary_metric():
    rules = RULES.model_copy(update={"primary_metric": "log_loss", "floors": {}})
    decision = decide(GOOD | {"log_loss": 0.1}, GOOD, rules)
    assert decision.release is True
    assert decision.improvement == pytest.approx(0.1)
    assert decide(GOOD | {"log_loss": 0.3}, GOOD, rules).release is False


def test_guard_regression_blocks_an_improvement():
    decision = decide(GOOD | {"average_precision": 0.6, "recall": 0.5}, GOOD, RULES)
    assert decision.release is False
    assert failures(decision) == ["FAIL: guard recall: 0.5000 vs champion 0.6000 (regression 0.1000, allowed 0.05)"]


def test_nan_candidate_metric_fails_closed():
    decision = decide(GOOD | {"average_precision": math.nan}, GOOD, RULES)
    assert decision.release is False
    assert decision.candidate["average_precision"] is None
    assert any("missing or not a number for the candidate" in r for r in failures(decision))


def test_missing_champion_metric_fails_closed():
    champ = {k: v for k, v in GOOD.items() if k != "recall"}
    decision = decide(GOOD | {"average_precision": 0.6}, champ, RULES)
    assert failures(decision) == [
        "FAIL: guard metric recall is missing or not a number for the champion; no release (fail closed)"
    ]


def test_require_significant_needs_a_positive_lower_bound():
    rules = RULES.model_copy(update={"require_significant": True})
    better = GOOD | {"average_precision": 0.6}
    assert decide(better, GOOD, rules, improvement_lower_bound=0.02).release is True
    decision = decide(better, GOOD, rules, improvement_lower_bound=-0.01)
    assert "bootstrap lower bound" in failures(decision)[0]
    assert decide(better, GOOD, rules, improvement_lower_bound=None).release is False


def test_significance_is_ignored_when_not_required():
    assert decide(GOOD | {"average_precision": 0.6}, GOOD, RULES, improvement_lower_bound=-1).release is True


def test_refuse_is_a_no_release_with_its_reason():
    decision = refuse("champion model-v3 unavailable: corrupted", GOOD)
    assert decision.release is False
    assert decision.reasons == ["FAIL: champion model-v3 unavailable: corrupted"]
    assert decision.to_json()["candidate"]["roc_auc"] == 0.9
