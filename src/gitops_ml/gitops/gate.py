"""The release gate's rules: does the candidate model replace the released one (the champion)?

Pure functions of metrics and :class:`~gitops_ml.config.GateParams`, no I/O, so the pull-request report and
the release workflow decide the same way. The gate fails closed: a NaN or missing metric, a missing champion
metric or a non-finite rule never releases. Every rule checked adds one human-readable reason, failures first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ml.config import GateParams
from gitops_ml.model_metrics import higher_is_better
from gitops_ml.values import finite_or_none

PASSED = "PASS"
FAILED = "FAIL"


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict, with every rule's outcome and the metrics it compared."""

    release: bool
    reasons: list[str]  # human-readable, one per rule checked (passed and failed), failures first
    candidate: dict[str, float | None]
    champion: dict[str, float | None] | None
    improvement: float | None  # candidate - champion on the primary metric, signed so that > 0 is better

    def to_json(self) -> dict[str, Any]:
        """The decision as a JSON-ready dict (the body of ``reports/gate.json``)."""
        return {
            "release": self.release,
            "reasons": list(self.reasons),
            "candidate": dict(self.candidate),
            "champion": None if self.champion is None else dict(self.champion),
            "improvement": self.improvement,
        }


def _clean(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    return {str(name): finite_or_none(value) for name, value in metrics.items()}


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def better_by(name: str, candidate: float, champion: float) -> float:
    """How much better ``candidate`` is than ``champion`` on metric ``name`` (> 0 is better, either direction)."""
    return candidate - champion if higher_is_better(name) else champion - candidate


def signed_lower_bound(name: str, low: float | None, high: float | None) -> float | None:
    """The lower bound of the improvement on metric ``name``, signed so that > 0 is better; None when unknown.

    ``low``/``high`` bound the paired difference (candidate - champion). For a lower-is-better metric the
    improvement is that difference negated, so its lower bound is ``-high``.
    """
    return finite_or_none(low) if higher_is_better(name) else _negated(finite_or_none(high))


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


@dataclass
class _Checks:
    failed: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def add(self, ok: bool, text: str) -> None:
        (self.passed if ok else self.failed).append(f"{PASSED if ok else FAILED}: {text}")


def _check_floors(cand: dict[str, float | None], rules: GateParams, checks: _Checks) -> None:
    for name, floor in rules.floors.items():
        value = cand.get(name)
        word = "at least" if higher_is_better(name) else "at most"
        if not math.isfinite(floor):
            checks.add(False, f"floor for {name} is not a number ({floor}); fix gate.floors.{name} in params.yaml")
        elif value is None:
            checks.add(False, f"candidate {name} is missing or not a number; its floor ({word} {floor}) cannot pass")
        else:
            ok = better_by(name, value, floor) >= 0
            checks.add(ok, f"candidate {name} {_fmt(value)} is {'' if ok else 'not '}{word} the floor {floor}")


def _check_primary(
    cand: dict[str, float | None], champ: dict[str, float | None], rules: GateParams, checks: _Checks
) -> float | None:
    name = rules.primary_metric
    value, base = cand.get(name), champ.get(name)
    if value is None or base is None:
        who = " and ".join(w for w, v in (("candidate", value), ("champion", base)) if v is None)
        checks.add(False, f"primary metric {name} is missing or not a number for the {who}; no release (fail closed)")
        return None
    gain = better_by(name, value, base)
    needed = rules.min_improvement
    ok = gain > 0 and gain >= needed
    verdict = "improves" if gain > 0 else ("ties" if gain == 0 else "regresses")
    checks.add(
        ok,
        f"primary metric {name} {verdict}: {_fmt(value)} vs champion {_fmt(base)} "
        f"(change {gain:+.4f}, needs > 0 and >= {needed})",
    )
    return gain


def _check_guards(
    cand: dict[str, float | None], champ: dict[str, float | None], rules: GateParams, checks: _Checks
) -> None:
    for name, allowed in rules.guards.items():
        value, base = cand.get(name), champ.get(name)
        if not math.isfinite(allowed):
            checks.add(False, f"guard for {name} is not a number ({allowed}); fix gate.guards.{name} in params.yaml")
        elif value is None or base is None:
            who = " and ".join(w for w, v in (("candidate", value), ("champion", base)) if v is None)
            checks.add(False, f"guard metric {name} is missing or not a number for the {who}; no release (fail closed)")
        else:
            regression = -better_by(name, value, base)
            ok = regression <= allowed
            checks.add(
                ok,
                f"guard {name}: {_fmt(value)} vs champion {_fmt(base)} "
                f"(regression {regression if regression > 0 else 0.0:.4f}, allowed {allowed})",
            )


def _check_significance(lower: float | None, rules: GateParams, checks: _Checks) -> None:
    name = rules.primary_metric
    bound = finite_or_none(lower)
    if bound is None:
        checks.add(False, f"require_significant: no bootstrap lower bound of the {name} improvement; no release")
    else:
        checks.add(
            bound > 0,
            f"require_significant: bootstrap lower bound of the {name} improvement is {bound:+.4f} (needs > 0)",
        )


def decide(
    candidate: Mapping[str, float | None],
    champion: Mapping[str, float | None] | None,
    rules: GateParams,
    improvement_lower_bound: float | None = None,
    new_line: str | None = None,
) -> GateDecision:
    """Apply the gate ``rules`` to the candidate's and the champion's metrics on the same test set.

    ``champion`` None means there is no released model yet: only the absolute floors apply. Otherwise the
    primary metric must improve by more than zero and at least ``rules.min_improvement`` (a tie never
    releases), every guard metric may regress by at most its allowance, and with ``rules.require_significant``
    the bootstrap lower bound of the improvement (``improvement_lower_bound``, signed like the improvement)
    must be above zero. ``new_line`` (with ``champion`` None) says why there is no comparable champion although a
    model was released: the data contract changed, so the candidate starts a new model line on the floors only.
    """
    cand = _clean(candidate)
    champ = None if champion is None else _clean(champion)
    checks = _Checks()
    _check_floors(cand, rules, checks)
    improvement: float | None = None
    if champ is None:
        first = "first release: no released model (model-v* tag) yet"
        checks.add(True, f"{new_line or first}, so only the floors apply")
    else:
        improvement = _check_primary(cand, champ, rules, checks)
        _check_guards(cand, champ, rules, checks)
        if rules.require_significant:
            _check_significance(improvement_lower_bound, rules, checks)
    return GateDecision(
        release=not checks.failed,
        reasons=checks.failed + checks.passed,
        candidate=cand,
        champion=champ,
        improvement=improvement,
    )


def refuse(
    reason: str,
    candidate: Mapping[str, float | None] | None = None,
    champion: Mapping[str, float | None] | None = None,
) -> GateDecision:
    """A no-release decision for a problem found before the rules could run (no model, corrupted champion...)."""
    return GateDecision(
        release=False,
        reasons=[f"{FAILED}: {reason}"],
        candidate=_clean(candidate or {}),
        champion=None if champion is None else _clean(champion),
        improvement=None,
    )
