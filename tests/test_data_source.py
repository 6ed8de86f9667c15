"""``ensure-data``: regenerate the sample byte for byte (only while ``data.sample`` is set), never overwrite changed
data, explain a missing remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml import params_yaml
from tests.support.projects import make_project, run

pytestmark = pytest.mark.slow


def test_fresh_clone_regenerates_the_exact_tracked_sample_then_keeps_it(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", tmp_path / "empty-cache")  # nothing cached, no remote
    first = run(["gitops-ml", "ensure-data"], project)
    assert "its hash matches data.dvc" in first.stderr
    assert run(["dvc", "status", "--json", "data.dvc"], project).stdout.strip() == "{}"
    again = run(["gitops-ml", "ensure-data"], project)
    assert "matches data.dvc" in again.stderr
    assert "generating" not in again.stderr


def test_local_remote_round_trip(project: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "-f", "--local", "local", str(remote)], project)
    run(["gitops-ml", "ensure-data"], project)
    run(["dvc", "push", "data.dvc"], project)
    clone = make_project(tmp_path / "clone", tmp_path / "clone-cache")  # a colleague's clone: empty cache
    run(["dvc", "remote", "add", "-d", "-f", "--local", "local", str(remote)], clone)
    pulled = run(["gitops-ml", "ensure-data"], clone)
    assert "pulled data/transactions.csv from the DVC remote" in pulled.stderr
    restored = make_project(tmp_path / "again", tmp_path / "clone-cache")  # same cache, no remote
    assert "restored data/transactions.csv from the DVC cache" in run(["gitops-ml", "ensure-data"], restored).stderr


def test_changed_data_is_never_overwritten(project: Path) -> None:
    run(["gitops-ml", "ensure-data"], project)
    csv = project / "data" / "transactions.csv"
    csv.write_text(csv.read_text() + csv.read_text().splitlines()[1] + "\n")
    edited = csv.read_bytes()
    result = run(["gitops-ml", "ensure-data"], project, check=False)
    assert result.returncode == 1
    assert "data/ differs from what data.dvc records" in result.stderr
    assert "dvc add data" in result.stderr
    assert csv.read_bytes() == edited


def test_data_only_a_remote_has_fails_with_the_fix(project: Path) -> None:
    dvc_file = project / "data.dvc"
    dvc_file.write_text(dvc_file.read_text().replace(dvc_file.read_text().split("md5: ")[1][:32], "0" * 32))
    result = run(["gitops-ml", "ensure-data"], project, check=False)
    assert result.returncode == 1
    assert "records data that no configured DVC remote has" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "data" / "transactions.csv").exists()  # the mismatching sample is not left behind


def test_without_data_sample_the_sample_is_never_generated(tmp_path: Path) -> None:
    """Own data that no cache or remote holds: the error says so; the sample generator, though present, is not used."""
    project = make_project(tmp_path / "project", tmp_path / "empty-cache")  # data.dvc still records the sample
    doc = params_yaml.load((project / "params.yaml").read_text())
    params_yaml.remove(doc["data"], "sample")
    (project / "params.yaml").write_text(params_yaml.dump(doc))
    result = run(["gitops-ml", "ensure-data"], project, check=False)
    assert result.returncode == 1
    assert "records data that no configured DVC remote has" in result.stderr
    assert "data.sample is not set" in result.stderr
    assert "generating" not in result.stderr and "Traceback" not in result.stderr
    assert not (project / "data" / "transactions.csv").exists()
