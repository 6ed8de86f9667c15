"""The comment workflow's validator rejects a tampered PR number, head SHA or report JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_ml.gitops.artifact import ArtifactError, pr_metadata, validate_artifact
from gitops_ml.io import write_json
from tests.conftest import VENV_BIN
from tests.gitops.test_report import sample_report

GITOPS_ML = str(Path(sys.executable).parent / "gitops-ml")
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


def validate_cli(artifact: Path, comment: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`gitops-ml validate-artifact` as the comment workflow runs it, with only ``env`` (no inherited secrets)."""
    return subprocess.run(
        [str(VENV_BIN / "gitops-ml"), "validate-artifact", str(artifact), "--out", str(comment)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_writes_the_comment_and_the_pr_number_output(artifact: Path, tmp_path: Path):
    output = tmp_path / "github_output"
    comment = tmp_path / "comment.md"
    (artifact / "report.md").write_text("<script>posted by the PR</script>")  # never used
    env = {"RUN_HEAD_SHA": SHA, "GITHUB_OUTPUT": str(output)}
    result = validate_cli(artifact, comment, env)
    assert result.returncode == 0, result.stderr
    assert output.read_text() == "pr-number=42\n"
    assert "<script>" not in comment.read_text()
    assert "### Metrics" in comment.read_text()
    write_json(artifact / "pr.json", {"pr_number": "42", "head_sha": "e" * 40})
    comment.unlink()
    result = validate_cli(artifact, comment, env)
    assert result.returncode == 1
    assert "head_sha" in result.stderr


def test_cli_renders_opt_in_images_from_the_validated_data(artifact: Path, tmp_path: Path):
    comment = tmp_path / "out" / "comment.md"
    result = validate_cli(artifact, comment, {"RUN_HEAD_SHA": SHA, "CML_PUBLISH_IMAGES": "true"})
    assert result.returncode == 0, result.stderr
    assert "![ROC curve](images/roc.png)" in comment.read_text()
    assert (tmp_path / "out" / "images" / "roc.png").read_bytes().startswith(b"\x89PNG")
