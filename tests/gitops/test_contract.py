"""A changed data contract starts a new model line: the changes are named and the gate uses the floors only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_ml.config import GateParams, SchemaParams
from gitops_ml.gitops.contract import changes_since, contract_changes, schema_at
from gitops_ml.gitops.gate import decide
from gitops_ml.gitops.gate_report import GateReport
from gitops_ml.gitops.release import release_notes
from tests.support.projects import run

SCHEMA = {
    "target": "label",
    "columns": {
        "amount": {"type": "float", "min": 0, "max": 10},
        "kind": {"type": "category", "categories": ["a", "b"]},
        "count": {"type": "int"},
    },
}


def schema(**changes) -> SchemaParams:
    raw = yaml.safe_load(yaml.safe_dump(SCHEMA))
    for name, spec in changes.items():
        if spec is None:
            raw["columns"].pop(name)
        elif name in ("target", "positive_class", "negative_class", "task", "classes"):
            raw[name] = spec
        else:
            raw["columns"][name] = spec
    return SchemaParams.model_validate(raw)


def test_the_same_contract_has_no_changes():
    assert contract_changes(schema(), schema()) == []
    # a new category value or other bounds do not stop the champion from scoring the data
    assert contract_changes(schema(), schema(kind={"type": "category", "categories": ["a", "b", "c"]})) == []


def test_every_kind_of_change_is_named():
    changed = schema(target="y", count={"type": "float"}, amount=None, extra={"type": "bool"})
    assert contract_changes(schema(), changed) == [
        "target changed from `label` to `y`",
        "column `extra` added",
        "column `amount` removed",
        "column `count` retyped from int to float",
    ]


def test_a_flipped_positive_class_is_a_contract_change():
    """The champion's scores are the probability of its positive class: after a flip they mean the other class."""
    flipped = schema(positive_class=0, negative_class=1)
    assert contract_changes(schema(), flipped) == ["positive class changed from `1` to `0`"]
    relabelled = schema(positive_class="yes", negative_class="no")
    assert contract_changes(schema(), relabelled) == ['positive class changed from `1` to `"yes"`']
    assert contract_changes(schema(), schema(negative_class=2)) == ["negative class changed from `0` to `2`"]
    # true is 1 to the validate stage (a 0/1 column maps the same way): not a change
    assert contract_changes(schema(), schema(positive_class=True, negative_class=False)) == []


def test_another_task_or_other_classes_is_a_contract_change():
    """A multiclass model's probabilities follow its classes' order; a model of another task predicts another thing."""
    multi = schema(task="multiclass", classes=["a", "b", "c"])
    assert contract_changes(schema(), multi) == ["task changed from binary to multiclass"]
    reordered = schema(task="multiclass", classes=["b", "a", "c"])
    assert contract_changes(multi, reordered) == ['classes changed from `["a", "b", "c"]` to `["b", "a", "c"]`']
    assert contract_changes(multi, multi) == []


def test_a_new_model_line_is_judged_on_the_floors_only():
    rules = GateParams.model_validate({"primary_metric": "average_precision", "floors": {"average_precision": 0.2}})
    candidate = {"average_precision": 0.5, "roc_auc": 0.8}
    decision = decide(candidate, None, rules, None, "new model line: the data contract changed since model-v1 (x)")
    assert decision.release
    assert decision.reasons[-1] == (
        "PASS: new model line: the data contract changed since model-v1 (x), so only the floors apply"
    )
    weak = decide({"average_precision": 0.1}, None, rules, None, "new model line: ...")
    assert not weak.release


def test_the_release_notes_name_the_changes():
    gate = GateReport(
        release=True,
        commit="a" * 40,
        rules=GateParams(),
        champion_tag="model-v1",
        contract_changes=["column `x` added"],
        reasons=[],
    )
    notes = release_notes("model-v2", gate)
    assert "as a new model line (the data contract changed since **model-v1**" in notes
    assert "## Data contract changes\n\n- column `x` added" in notes


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"schema": SCHEMA, "other": {"ignored": True}}))
    run(["git", "add", "params.yaml"], tmp_path)
    run(["git", "commit", "-qm", "v1"], tmp_path)
    run(["git", "tag", "model-v1"], tmp_path)
    return tmp_path


def test_the_champions_contract_comes_from_its_tag(repo):
    assert schema_at(repo, "model-v1") == schema()
    assert changes_since(repo, "model-v1", schema(count=None)) == ["column `count` removed"]


def test_an_unreadable_old_contract_counts_as_a_change(repo):
    (repo / "params.yaml").write_text("schema: [not, a, mapping]\n")
    run(["git", "commit", "-qam", "broken"], repo)
    run(["git", "tag", "model-v2"], repo)
    assert schema_at(repo, "model-v2") is None
    assert changes_since(repo, "model-v2", schema()) == [
        "the contract of model-v2 (schema in its params.yaml) cannot be read by this version"
    ]
