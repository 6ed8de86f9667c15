"""Editing params.yaml in place keeps comments, layout and other sections, and writes values every reader agrees on."""

from __future__ import annotations

import re

import pytest
import yaml
from ruamel.yaml import YAML

from gitops_ml import params_yaml
from tests.support.fixture_project import FIXTURE_PARAMS

TEXT = FIXTURE_PARAMS.read_text()


def test_an_unedited_document_is_written_back_byte_for_byte() -> None:
    assert params_yaml.dump(params_yaml.load(TEXT)) == TEXT


def test_replacing_a_block_keeps_what_followed_it() -> None:
    doc = params_yaml.load(TEXT)
    params_yaml.set_value(doc["schema"], "columns", {"age": {"type": "int", "min": 0, "max": 120}})
    params_yaml.set_value(doc["schema"], "target", "churned")
    text = params_yaml.dump(doc)
    before_split = text.split("\nsplit:")[0]
    assert before_split.endswith("      max: 120\n")  # the blank line before the next section is still there
    assert "  target: churned               # the binary label\n" in text  # the key keeps its own comment
    assert "# Release gate: the candidate replaces" in text
    old, new = yaml.safe_load(TEXT), yaml.safe_load(text)
    assert {k: v for k, v in old.items() if k != "schema"} == {k: v for k, v in new.items() if k != "schema"}


def test_removing_a_block_keeps_what_followed_it() -> None:
    doc = params_yaml.load(TEXT)
    params_yaml.remove(doc["data"], "sample")
    params_yaml.remove(doc["data"], "not-there")  # nothing to remove: nothing happens
    text = params_yaml.dump(doc)
    assert "sample" not in yaml.safe_load(text)["data"]
    assert "  path: data/transactions.csv   # raw data, tracked by data.dvc\n\n# The data contract." in text
    old, new = yaml.safe_load(TEXT), yaml.safe_load(text)
    assert {k: v for k, v in old.items() if k != "data"} == {k: v for k, v in new.items() if k != "data"}


def test_new_keys_go_where_asked_with_their_comment() -> None:
    doc = params_yaml.load(TEXT)
    del doc["project"]
    params_yaml.set_value(doc, "project", {"name": "x"}, after="")
    params_yaml.set_value(doc["schema"], "extra", 3, after="target", comment="a note")
    text = params_yaml.dump(doc)
    assert list(yaml.safe_load(text))[:2] == ["project", "data"]
    assert "project:\n  name: x\n\ndata:" in text  # an inserted section is followed by a blank line
    assert list(yaml.safe_load(text)["schema"])[:3] == ["task", "target", "extra"]
    assert re.search(r"\n  extra: 3 +# a note\n", text)


@pytest.mark.parametrize(
    "value", ["yes", "No", "on", "null", "~", "", "012", "1.5", "12:30", "2024-01-01", "a: b", "#x"]
)
def test_strings_another_reader_would_misread_are_quoted(value: str) -> None:
    text = params_yaml.dump(params_yaml.node({"k": [value], value or "empty": 1}))
    assert yaml.safe_load(text)["k"] == [value]  # PyYAML (YAML 1.1): what load_params reads
    assert YAML(typ="safe", pure=True).load(text)["k"] == [value]  # YAML 1.2: what DVC reads
    assert (value or "empty") in yaml.safe_load(text)  # keys too


@pytest.mark.parametrize("value", [1e-05, 2.5e-07, 1e20, 0.1, 12.0, 123456789.5, float("inf")])
def test_floats_read_back_as_floats_in_yaml_1_1(value: float) -> None:
    assert yaml.safe_load(params_yaml.dump(params_yaml.node({"v": value}))) == {"v": value}


def test_none_is_written_as_null() -> None:
    assert params_yaml.dump(params_yaml.node({"v": None})) == "v: null\n"


def test_a_comment_that_states_a_changed_fact_is_replaced() -> None:
    doc = params_yaml.load(TEXT)
    params_yaml.set_comment(doc["schema"], "target", "the number to predict", column=32)
    params_yaml.set_comment(doc["project"], "owner", "who answers for it")
    text = params_yaml.dump(doc)
    assert "\n  target: is_fraud              # the number to predict\n  positive_class: 1 " in text
    assert "# who answers for it\n\ndata:" in text  # the blank line before the next section stays
    assert yaml.safe_load(text) == yaml.safe_load(TEXT)
    with pytest.raises(ValueError, match="holds a block"):
        params_yaml.set_comment(doc["schema"], "columns", "x")
