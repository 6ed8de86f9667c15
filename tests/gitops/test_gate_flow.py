"""End to end: merges to main in a temporary git repository, released (or not) by `gitops-ml gate` + `promote`.

One shared project walks through the merge loop in order: a first release (deliberately weak model), a merge
to the dummy estimator, a merge that leaves the model identical, and a better model. Then a fresh clone with
an empty DVC cache proves the champion comes from the DVC remote, from a reproduction when no store has it,
and that a corrupted copy blocks the release.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gitops_ml.config import load_params
from gitops_ml.errors import ChampionError
from gitops_ml.gitops.champion import locked_md5, materialise, release_tags
from gitops_ml.model_io import load_model
from gitops_ml.pipeline.evaluate import predict_scores
from gitops_ml.vcs import cache_path
from tests.support.projects import make_project, project_env, run

pytestmark = pytest.mark.slow(weight=7)

WEAK_ITERATIONS = 5  # the first release: a few boosting rounds, above the floors but easy to beat


def set_params(repo: Path, **changes: object) -> None:
    """Edit params.yaml: ``train__estimator="dummy"`` sets ``train.estimator``."""
    path = repo / "params.yaml"
    data = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def merge(repo: Path, message: str) -> dict:
    """Merge a change the way a pull request does (params, code and dvc.lock from its `dvc repro`) and run
    the gate, as the release workflow does on main (its `dvc repro` is a no-op then); return reports/gate.json."""
    run(["dvc", "repro"], repo)
    run(["git", "commit", "-qam", message], repo)
    run(["gitops-ml", "gate"], repo)
    return json.loads((repo / "reports/gate.json").read_text())


def promote(repo: Path, check: bool = True):
    return run(["gitops-ml", "promote", "--push"], repo, check=check)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> dict:
    """The merge loop, run once; each test checks one step of the record."""
    root = tmp_path_factory.mktemp("release-flow")
    repo = make_project(root / "project", dvc_cache)
    origin, remote = root / "origin.git", root / "dvc-remote"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], root)
    run(["git", "remote", "add", "origin", str(origin)], repo)
    run(["dvc", "remote", "add", "-d", "-f", "local", str(remote)], repo)
    run(["gitops-ml", "sample-data", "--rows", "4000"], repo)
    run(["dvc", "add", "data"], repo)
    set_params(
        repo,
        tracking__enabled=False,
        evaluate__bootstrap__n_resamples=50,  # fewer resamples: the flow, not the noise estimate, is tested here
        train__hist_gradient_boosting__max_iter=WEAK_ITERATIONS,
    )
    record: dict = {"repo": repo, "origin": origin, "remote": remote, "root": root}
    record["first"] = merge(repo, "first model")
    record["first_promote"] = promote(repo, check=False)
    record["first_promote_again"] = promote(repo, check=False)
    run(["dvc", "push"], repo)
    set_params(repo, train__estimator="dummy")
    record["dummy"] = merge(repo, "switch to the dummy estimator")
    record["dummy_promote"] = promote(repo, check=False)
    set_params(repo, train__estimator="hist_gradient_boosting")
    (repo / "NOTES.md").write_text("A change that does not touch the model.\n")
    run(["git", "add", "NOTES.md"], repo)
    record["identical"] = merge(repo, "back to the released model")
    record["identical_promote"] = promote(repo, check=False)
    set_params(repo, train__hist_gradient_boosting__max_iter=200)
    record["better"] = merge(repo, "more boosting rounds")
    record["better_promote"] = promote(repo, check=False)
    run(["dvc", "push"], repo)
    run(["git", "push", "-q", "origin", "main"], repo)
    # a new data contract (a column dropped), gated but not promoted or pushed: origin stays at model-v2
    params = yaml.safe_load((repo / "params.yaml").read_text())
    del params["schema"]["columns"]["avg_amount_30d"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    record["new_contract"] = merge(repo, "drop a column from the contract")
    run(["git", "reset", "-q", "--hard", "model-v2"], repo)  # back to the released state the other tests read
    run(["dvc", "repro"], repo)  # restores the outputs from the run-cache
    return record


def test_first_merge_releases_model_v1(flow):
    gate = flow["first"]
    assert gate["release"] is True, gate["reasons"]
    assert gate["champion"] is None
    assert gate["tag"] == "model-v1"
    assert any("first release" in r for r in gate["reasons"])
    assert flow["first_promote"].returncode == 0
    assert flow["first_promote"].stdout.strip() == "model-v1"


def test_promote_twice_creates_nothing_new(flow):
    again = flow["first_promote_again"]
    assert again.returncode == 0
    assert again.stdout.strip() == "model-v1"
    assert "already released" in again.stderr


def test_dummy_estimator_does_not_release(flow):
    gate = flow["dummy"]
    assert gate["release"] is False
    assert gate["champion_tag"] == "model-v1"
    assert gate["improvement"] < 0
    failed = [r for r in gate["reasons"] if r.startswith("FAIL")]
    assert any("primary metric average_precision regresses" in r for r in failed)
    assert any("floor" in r for r in failed)
    assert flow["dummy_promote"].returncode == 1
    assert "says no release" in flow["dummy_promote"].stderr


def test_identical_model_does_not_release(flow):
    gate = flow["identical"]
    assert gate["release"] is False
    assert gate["candidate"] == gate["champion"]
    assert gate["improvement"] == 0
    # retrained with the same data, params and seed: the same predictions (skops files carry zip timestamps,
    # so the bytes may differ; the gate compares metrics, not hashes)
    assert any("ties" in r for r in gate["reasons"] if r.startswith("FAIL"))
    assert flow["identical_promote"].returncode == 1


def test_better_model_releases_model_v2(flow):
    gate = flow["better"]
    assert gate["release"] is True, gate["reasons"]
    assert gate["champion_tag"] == "model-v1"
    assert gate["champion_source"] == "DVC cache"
    assert gate["improvement"] >= gate["rules"]["min_improvement"]
    assert gate["candidate"]["average_precision"] > gate["champion"]["average_precision"]
    assert flow["better_promote"].stdout.strip() == "model-v2"
    assert release_tags(flow["repo"]) == ["model-v1", "model-v2"]
    pushed = run(["git", "ls-remote", "--tags", str(flow["origin"])], flow["root"]).stdout
    assert "refs/tags/model-v1" in pushed
    assert "refs/tags/model-v2" in pushed


def test_rerun_on_a_released_commit_publishes_nothing(flow):
    repo = flow["repo"]
    run(["gitops-ml", "gate", "--out", "reports/gate-rerun.json"], repo)
    gate = json.loads((repo / "reports/gate-rerun.json").read_text())
    assert gate["release"] is False
    assert "already released as model-v2" in gate["reasons"][0]


def test_a_changed_contract_starts_a_new_model_line_on_the_floors(flow):
    gate = flow["new_contract"]
    assert gate["champion_tag"] == "model-v2"
    assert gate["contract_changes"] == ["column `avg_amount_30d` removed"]
    assert gate["champion"] is None  # the champion cannot score data without its column: not compared at all
    assert gate["release"] is True
    assert gate["tag"] == "model-v3"
    assert any(
        r.startswith("PASS: new model line: the data contract changed since model-v2 (column `avg_amount_30d`")
        for r in gate["reasons"]
    )


def test_release_notes_carry_metrics_reasons_and_model_card(flow):
    repo = flow["repo"]
    (repo / "reports/gate.json").write_text(json.dumps(flow["better"]))
    run(["gitops-ml", "release-notes"], repo)
    notes = (repo / "reports/release_notes.md").read_text()
    assert notes.startswith("# model-v2")
    assert "against the previous release **model-v1**" in notes
    assert f"| average_precision | {flow['better']['candidate']['average_precision']:.4f} |" in notes
    assert "Estimator: `hist_gradient_boosting`" in notes
    assert "PASS: primary metric average_precision improves" in notes
    project = load_params(repo / "params.yaml").project  # the model card quotes project: of params.yaml
    assert f"- Owner: {project.owner}" in notes and f"- Model: `{project.name}`" in notes
    assert f"- Intended use: {' '.join(project.intended_use.split())}" in notes


@pytest.fixture
def clone(flow, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of origin with its own, empty DVC cache (the DVC remote is in the committed config)."""
    dest = tmp_path_factory.mktemp("clone") / "repo"
    run(["git", "clone", "-q", str(flow["origin"]), str(dest)], flow["root"])
    run(["dvc", "cache", "dir", "--local", str(dest.parent / "cache")], dest)
    return dest


def test_champion_comes_from_the_dvc_remote_when_the_cache_lacks_it(clone, tmp_path):
    found = materialise(clone, "model-v2", tmp_path / "champion.skops", say=lambda _: None)
    assert found.source == "DVC remote"
    assert found.md5 == locked_md5(clone, "model-v2")
    assert not cache_path(clone.parent / "cache", found.md5).exists()


def test_champion_is_reproduced_when_no_store_has_it(flow, clone, tmp_path, dvc_cache):
    run(["dvc", "pull", "data.dvc"], clone)  # the data is in the cache, the model is nowhere
    empty = tmp_path / "empty-remote"
    empty.mkdir()
    run(["dvc", "remote", "modify", "--local", "local", "url", str(empty)], clone)
    found = materialise(clone, "model-v1", tmp_path / "champion.skops", say=lambda _: None)
    assert found.source == "reproduced"
    # the same data, params, code and seed give the same model: same scores as the released file
    released = load_model(cache_path(dvc_cache, locked_md5(clone, "model-v1")))
    test = pd.read_parquet(flow["repo"] / "artifacts/test.parquet")
    schema = load_params(flow["repo"] / "params.yaml").schema
    np.testing.assert_allclose(
        predict_scores(load_model(found.path), test, schema), predict_scores(released, test, schema)
    )
    assert not (clone / "models").exists()  # reproduced in a temporary worktree, not in the checkout


def test_corrupted_champion_blocks_the_release(clone, tmp_path):
    md5 = locked_md5(clone, "model-v1")
    cached = cache_path(clone.parent / "cache", md5)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a model")  # a damaged cache entry under the right hash
    with pytest.raises(ChampionError, match="corrupted"):
        materialise(clone, "model-v1", tmp_path / "champion.skops", say=lambda _: None)


def test_gate_fails_closed_with_a_corrupted_champion(clone):
    run(["dvc", "pull"], clone)  # data, artifacts and the candidate model (model-v2's commit)
    run(["git", "tag", "-d", "model-v2"], clone)  # so that model-v1 is the champion
    md5 = locked_md5(clone, "model-v1")
    cached = cache_path(clone.parent / "cache", md5)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"not a model")
    run(["gitops-ml", "gate"], clone)
    gate = json.loads((clone / "reports/gate.json").read_text())
    assert gate["release"] is False
    assert gate["reasons"][0].startswith("FAIL: champion model-v1 unavailable: the champion model of model-v1 from")
    assert "corrupted" in gate["reasons"][0]


def test_gate_refuses_a_commit_older_than_the_newest_release(clone):
    """A re-run of an old release run (its commit predates model-v2) publishes nothing."""
    run(["git", "checkout", "-q", "--detach", "model-v2~1"], clone)
    run(["gitops-ml", "gate"], clone)
    gate = json.loads((clone / "reports/gate.json").read_text())
    run(["git", "checkout", "-q", "main"], clone)
    assert gate["release"] is False
    assert gate["tag"] is None
    assert gate["reasons"][0].startswith("FAIL: the newest release model-v2 is not in the history of")


def test_gate_fails_closed_without_a_candidate_model(clone):
    shutil.rmtree(clone / "models", ignore_errors=True)
    run(["gitops-ml", "gate"], clone)
    gate = json.loads((clone / "reports/gate.json").read_text())
    assert gate["release"] is False
    assert gate["reasons"] == [
        "FAIL: no candidate model at models/model.skops; run `dvc repro` (or `make repro`) first"
    ]


def test_champion_alias_points_at_the_release(flow, mlflow_server):
    from mlflow import MlflowClient

    repo = flow["repo"]
    env = project_env({"MLFLOW_TRACKING_URI": mlflow_server})
    first = run(["gitops-ml", "set-champion-alias"], repo, env=env)
    again = run(["gitops-ml", "set-champion-alias"], repo, env=env)  # idempotent: no second version
    assert "@champion (model-v2)" in first.stdout
    client = MlflowClient(tracking_uri=mlflow_server)
    version = client.get_model_version_by_alias("fraud-detection", "champion")
    assert version.tags["release_tag"] == "model-v2"
    assert len(client.search_model_versions("name='fraud-detection'")) == 1
    assert f"version {version.version} is now @champion" in again.stdout


def test_champion_alias_is_skipped_without_a_server(flow):
    result = run(["gitops-ml", "set-champion-alias"], flow["repo"])
    assert "is not an MLflow server" in result.stderr


def test_the_gate_champion_follows_production_through_promotion_and_rollback(flow, tmp_path, mlflow_server):
    """publish -> staging PR -> merge -> production PR -> merge -> the gate's champion, the MLflow `champion` alias
    (a real `mlflow server`) and the latest GitHub Release are production's release; rollback to model-v1 by PR ->
    merge -> all three are model-v1 again and the next release is model-v3."""
    from mlflow import MlflowClient

    from tests.support.github_stub import GitHubStub

    def aliased_release() -> str:
        client = MlflowClient(tracking_uri=mlflow_server)
        (model,) = client.search_registered_models()
        return client.get_model_version_by_alias(model.name, "champion").tags["release_tag"]

    origin, repo = tmp_path / "origin.git", tmp_path / "repo"
    run(["git", "clone", "-q", "--bare", str(flow["origin"]), str(origin)], tmp_path)  # flow's origin stays as is
    run(["git", "clone", "-q", str(origin), str(repo)], tmp_path)
    run(["dvc", "cache", "dir", "--local", str(tmp_path / "cache")], repo)
    run(["dvc", "pull", "-q"], repo)  # model-v2's outputs: the candidate and the test set
    state = {
        "repository": "octo/template",
        "tokens": {"t": "github-actions[bot]"},
        "releases": [{"id": 1, "tag_name": "model-v1"}, {"id": 2, "tag_name": "model-v2"}],
    }
    digests = {"model-v1": "sha256:" + "1" * 64, "model-v2": "sha256:" + "2" * 64}
    with GitHubStub(state) as stub:
        env = project_env(
            {"GITHUB_REPOSITORY": "octo/template", "GITHUB_TOKEN": "t", "GITHUB_API_URL": stub.url}
            | {"MLFLOW_TRACKING_URI": mlflow_server}
        )

        def gitops(*args: str) -> None:
            run(["gitops-ml", *args], repo, env=env)

        def merge(branch: str) -> None:
            run(["git", "fetch", "-q", "origin"], repo)
            run(["git", "merge", "-q", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}"], repo)
            run(["git", "push", "-q", "origin", "main"], repo)
            with stub.lock:  # GitHub closes a merged pull request
                for pull in stub.state["pulls"]:
                    pull["state"] = "closed" if pull["head_ref"] == branch else pull["state"]

        def gate() -> dict:
            run(["gitops-ml", "gate"], repo)
            return json.loads((repo / "reports/gate.json").read_text())

        for version in ("model-v1", "model-v2"):
            gitops("deploy-pr", "--env", "staging", "--image", f"ghcr.io/octo/template@{digests[version]}",
                   "--model-version", version)  # fmt: skip
            merge(f"deploy/staging/{version}")
            gitops("promote-env", "--env", "production")
            merge(f"deploy/production/{version}")
        assert len([c for c in stub.writes() if c.method == "POST"]) == 4  # four pull requests opened
        production = gate()
        assert production["champion_tag"] == "model-v2"
        assert production["release"] is False  # the same model as production's
        gitops("sync-champion")
        assert stub.state["latest_release"] == "model-v2"
        assert aliased_release() == "model-v2"

        gitops("rollback", "--to", "model-v1")
        merge("deploy/production/model-v1")
        rolled_back = gate()
        assert rolled_back["champion_tag"] == "model-v1"
        assert rolled_back["release"] is True, rolled_back["reasons"]  # model-v2's model beats model-v1's
        assert rolled_back["tag"] == "model-v3"  # newest + 1, never a reused number
        gitops("sync-champion")
        assert stub.state["latest_release"] == "model-v1"
        assert aliased_release() == "model-v1"
