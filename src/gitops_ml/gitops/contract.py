"""Did the data contract change between the champion and the candidate? Then the candidate starts a new model line.

A champion trained on other columns (added, removed or retyped) or another target cannot score the candidate's
test set; one trained with another positive class (or, multiclass, other classes or another order of them) scores
other classes; one of another task (binary, multiclass, regression) predicts another kind of thing. Comparing the
two would be meaningless. The documented rule: the candidate is judged on the floors only, like a first release,
and the gate's reasons and the release notes name every change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gitops_ml.config import SchemaParams
from gitops_ml.vcs import file_at


def contract_changes(champion: SchemaParams, candidate: SchemaParams) -> list[str]:
    """Human-readable differences that make the champion's model unable to score the candidate's data."""
    if champion.task is not candidate.task:
        return [f"task changed from {champion.task.value} to {candidate.task.value}"]
    changes = []
    if champion.target != candidate.target:
        changes.append(f"target changed from `{champion.target}` to `{candidate.target}`")
    # Compared with ==, as validate maps the target: 1 and true are the same class, 1 and "1" are not.
    if champion.positive_class != candidate.positive_class:
        changes.append(
            f"positive class changed from `{_shown(champion.positive_class)}` to `{_shown(candidate.positive_class)}`"
        )
    elif champion.negative_class != candidate.negative_class:
        changes.append(
            f"negative class changed from `{_shown(champion.negative_class)}` to `{_shown(candidate.negative_class)}`"
        )
    if champion.classes != candidate.classes:  # multiclass: the model's probability columns follow this order
        changes.append(f"classes changed from `{_shown(champion.classes)}` to `{_shown(candidate.classes)}`")
    old, new = champion.columns, candidate.columns
    changes += [f"column `{name}` added" for name in new if name not in old]
    changes += [f"column `{name}` removed" for name in old if name not in new]
    changes += [
        f"column `{name}` retyped from {old[name].type.value} to {new[name].type.value}"
        for name in new
        if name in old and old[name].type is not new[name].type
    ]
    return changes


def _shown(value: Any) -> str:
    """A class value as params.yaml spells it: 1, true, "yes"."""
    return json.dumps(value)


def schema_at(repo: Path, rev: str) -> SchemaParams | None:
    """The ``schema:`` section of ``params.yaml`` at ``rev``, or None when it is missing or unreadable."""
    text = file_at(repo, rev, "params.yaml")
    if text is None:
        return None
    try:
        section = (yaml.safe_load(text) or {}).get("schema")
        return SchemaParams.model_validate(section)
    except (yaml.YAMLError, AttributeError, ValidationError):
        return None


def changes_since(repo: Path, tag: str, candidate: SchemaParams) -> list[str]:
    """Contract changes from release ``tag`` to ``candidate``; an unreadable old contract counts as a change."""
    old = schema_at(repo, tag)
    if old is None:
        return [f"the contract of {tag} (schema in its params.yaml) cannot be read by this version"]
    return contract_changes(old, candidate)
