"""The comment workflow's validator rejects a tampered PR number, head SHA or report JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_ml.gitops.artifact import ArtifactError, pr_metadata, validate_artifact
from gitops_ml.io import write_json
from tests.gitops.test_report import sample_report

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    directory = tmp_path / "artifact"
    write_json(directory / "pr.json", pr_metadata(42, SHA))
    write_json(directory / "report.json", sample_report().model_dump(mode="json"))
    return directory


def test_a_good_artifact_passes(artifact: Path):
    valid = validate_artifact(artifact, SHA)
    assert valid.pr_number == 42
    assert valid.report == sample_report()


@pytest.mark.parametrize("number", ["42; rm -rf /", "-1", "0", "4 2", "", "42\n", "\uff11\uff12"])
def test_tampered_pr_number_is_rejected(artifact: Path, number: str):
    write_json(artifact / "pr.json", {"pr_number": number, "head_sha": SHA})
    with pytest.raises(ArtifactError, match="pr_number"):
        validate_artifact(artifact, SHA)


def test_pr_number_must_be_a_string_of_digits(artifact: Path):
    write_json(artifact / "pr.json", {"pr_number": 42, "head_sha": SHA})
    with pytest.raises(ArtifactError, match="strings"):
        validate_artifact(artifact, SHA)


def test_a_head_sha_other_than_the_triggering_runs_is_rejected(artifact: Path):
    other = "f" * 40
    write_json(artifact / "pr.json", {"pr_number": "42", "head_sha": other})
    with pytest.raises(ArtifactError, match="not the SHA of the run"):
        validate_artifact(artifact, SHA)


def test_extra_keys_in_pr_json_are_rejected(artifact: Path):
    write_json(artifact / "pr.json", {"pr_number": "42", "head_sha": SHA, "target": "pr/1"})
    with pytest.raises(ArtifactError, match="exactly the keys"):
        validate_artifact(artifact, SHA)


def test_tampered_report_json_is_rejected(artifact: Path):
    data = json.loads((artifact / "report.json").read_text())
    data["metrics"][0]["name"] = "<script>"
    write_json(artifact / "report.json", data)
    with pytest.raises(ArtifactError, match=r"report.json: does not match the report schema \(metrics.0.name"):
        validate_artifact(artifact, SHA)
    (artifact / "report.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        validate_artifact(artifact, SHA)
    (artifact / "report.json").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        validate_artifact(artifact, SHA)


def test_non_finite_or_quoted_numbers_are_refused_naming_the_field(artifact: Path):
    text = (artifact / "report.json").read_text()
    data = json.loads(text)
    data["metrics"][0]["delta"] = float("nan")
    (artifact / "report.json").write_text(json.dumps(data))  # json.dumps writes NaN, as a careless writer would
    with pytest.raises(ArtifactError, match=r"metrics\.0\.delta: Input should be a finite number"):
        validate_artifact(artifact, SHA)
    data["metrics"][0]["delta"] = "0.1"
    write_json(artifact / "report.json", data)
    with pytest.raises(ArtifactError, match=r"metrics\.0\.delta: Input should be a valid number"):
        validate_artifact(artifact, SHA)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"rows": ' + "9" * 5_000 + "}", "a number with thousands of digits"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        (b'{"a": "\xff"}', "not UTF-8"),
        ('\ufeff{"a": 1}', "BOM"),
    ],
    ids=["deeply nested", "5,000-digit integer", "UTF-16", "invalid UTF-8", "byte order mark"],
)
def test_every_parse_failure_is_the_one_line_artifact_error(artifact: Path, text: str | bytes, problem: str):
    """Found by an attack run: deep nesting and huge integers escaped as tracebacks (RecursionError, ValueError)."""
    path = artifact / "report.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    refused = rf"report\.json: not valid JSON \(.*{problem}.*\); the artifact is refused"
    with pytest.raises(ArtifactError, match=refused):
        validate_artifact(artifact, SHA)


def test_a_long_key_is_shortened_in_the_error(artifact: Path):
    data = json.loads((artifact / "report.json").read_text())
    data["k" * 5_000] = 1
    write_json(artifact / "report.json", data)
    with pytest.raises(ArtifactError, match=r"Extra inputs are not permitted") as error:
        validate_artifact(artifact, SHA)
    assert "k" * 61 not in str(error.value)
