"""``ensure-data``: regenerate the sample byte for byte, never overwrite changed data, explain a missing remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run

pytestmark = pytest.mark.slow


def test_fresh_clone_regenerates_the_exact_tracked_sample_then_keeps_it(project: Path) -> None:
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
    (project / "data" / "transactions.csv").unlink()
    run(["dvc", "gc", "--workspace", "--force", "--cloud", "--not-in-remote"], project, check=False)
    pulled = run(["gitops-ml", "ensure-data"], project)
    assert "pulled data/transactions.csv from the DVC remote" in pulled.stderr


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
