"""Rehearsal of the merge loop: ci.yml on a push to main, then release.yml on ``workflow_run`` (and by hand).

One repository lives through a release history, because every release builds and pushes a real image: each
module fixture below is one step of that history and asserts nothing itself; the tests check what it left in the
local registry (tags and digests), in origin (git tags), on GitHub (Releases) and in the attestation records.

    A  first merge            -> released as model-v1
    B  docs-only merge        -> not released (the gate ties)
    C  better model, but its service is broken  -> the smoke test fails: nothing moves
    D  better model, service fixed -> run fails at the GitHub Release (API outage); re-running it finishes model-v2
    then: re-runs of the old runs of C and A publish nothing; dispatch from a branch refused; the deploy flow:
    staging PRs (opened by A's and D's publish) merged -> deploy.yml promotes each to production by PR -> merged
    -> sync-champion marks its Release latest; rollback to model-v1 by PR -> merged -> model-v1 is latest again.

ci runs only its ``pipeline`` job here (see test_pull_requests.py for why).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.act_runner import RunnerMachine
from tests.support.docker_engine import DockerEngine, LocalRegistry
from tests.support.github_stub import GitHubStub

from .checks import expect_released, registry_has, registry_tags, releases, writes
from .conftest import REPOSITORY, docker_machine, new_stub
from .hosting import Clone, HostedRepo, Run, git, learning_rate

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow(weight=13), pytest.mark.timeout(3600)]

ZERO = "0" * 40
SERVICE = "src/gitops_ml/serving/service.py"
ANSWER = "    async def answer(self, records: Sequence[Any], request_id: str | None = None) -> BaseModel:\n"
"""The service's method behind every ``POST /predict`` (predict_endpoint.py calls it): breaking it breaks /predict."""
BETTER_MODEL = (learning_rate("0.1"), learning_rate("0.05"))  # raises average precision well past the gate's margin


@dataclass
class World:
    """The repository, its runner, GitHub stand-in and registry, shared by the module's release history."""

    machine: RunnerMachine
    github: GitHubStub
    repo: HostedRepo
    registry: str
    image: str

    @property
    def variables(self) -> dict[str, str]:
        return {"IMAGE_REGISTRY": self.registry}

    def snapshot(self) -> dict[str, object]:
        """Everything a release publishes, to compare before and after a run that must publish nothing."""
        return {
            "registry": registry_tags(self.registry, self.image),
            "git tags": self.repo.tags(),
            "releases": sorted(releases(self.github)),
            "attestations": len(self.machine.read_records("attestations")),
            "pushes": len(self.machine.read_records("builds")),
        }

    def merge(self, name: str, before: str, edit: Callable[[Clone], str]) -> tuple[str, Run]:
        """Push a commit made by ``edit`` to main and run ci for it (pipeline job); return (commit, ci run)."""
        dev = self.repo.clone(name)
        message = edit(dev)
        commit = dev.commit(message)
        dev.push("main")
        ci = self.repo.push_run(f"ci-{name}", "ci.yml", before, commit, job="pipeline")
        ci.act.expect_success()
        return commit, ci

    def release_after(self, name: str, ci: Run, **options: object) -> Run:
        """The release run GitHub starts when ``ci`` completes."""
        return self.repo.workflow_run_run(name, "release.yml", ci, variables=self.variables, **options)


@dataclass
class Step:
    """One step of the history: its commit, its release run(s), and the snapshot before it."""

    commit: str
    release: Run
    before: dict[str, object]
    rerun: Run | None = None
    between: dict[str, object] | None = None  # after the failed attempt, before the re-run


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    shared_dvc: dict[str, str],
    template: Path,
    docker: tuple[DockerEngine, LocalRegistry],
) -> Iterator[World]:
    engine, registry = docker
    root = tmp_path_factory.mktemp("release") / "runner"
    machine = docker_machine(root, "test_release", shared_dvc, engine, registry.address)
    with new_stub(machine) as github:
        repo = HostedRepo(machine, github, REPOSITORY, template)
        yield World(machine, github, repo, registry.address, f"{registry.address}/{REPOSITORY}")


@pytest.fixture(scope="module")
def step_a(world: World) -> Step:
    """The first push to main: ci passes, the gate releases model-v1 (no champion yet)."""
    before = world.snapshot()
    commit = world.repo.head()
    ci = world.repo.push_run("ci-a", "ci.yml", ZERO, commit, job="pipeline")
    ci.act.expect_success()
    return Step(commit, world.release_after("release-a", ci), before)


@pytest.fixture(scope="module")
def step_b(world: World, step_a: Step) -> Step:
    """A docs-only merge: same model, so the gate does not release."""
    before = world.snapshot()
    commit, ci = world.merge("b", step_a.commit, docs_only)
    return Step(commit, world.release_after("release-b", ci), before)


def docs_only(dev: Clone) -> str:
    dev.append("README.md", "\nDocs only.\n")
    return "docs: a note"


def better_model_with_broken_service(dev: Clone) -> str:
    dev.replace("params.yaml", *BETTER_MODEL)
    dev.dvc_repro()
    dev.replace(SERVICE, ANSWER, ANSWER + "        raise RuntimeError('rehearsal: a broken service')\n")
    return "train: learning rate 0.05 (and a broken /predict)"


@pytest.fixture(scope="module")
def step_c(world: World, step_b: Step) -> Step:
    """A better model whose service fails on /predict: built and pushed by digest, then the smoke test fails."""
    before = world.snapshot()
    commit, ci = world.merge("c", step_b.commit, better_model_with_broken_service)
    return Step(commit, world.release_after("release-c", ci), before)


def fix_the_service(dev: Clone) -> str:
    dev.replace(SERVICE, "        raise RuntimeError('rehearsal: a broken service')\n", "")
    return "serving: fix /predict"


@pytest.fixture(scope="module")
def step_d(world: World, step_c: Step) -> Step:
    """The fix: the release fails at the GitHub Release (API down), and re-running the failed job finishes it."""
    before = world.snapshot()
    commit, ci = world.merge("d", step_c.commit, fix_the_service)
    outage = {"GITHUB_API_URL": "http://127.0.0.1:9"}  # nothing listens on port 9: GitHub's API is down
    failed = world.release_after("release-d", ci, env=outage)
    between = world.snapshot()
    rerun = world.repo.rerun_failed("release-d-rerun", failed, variables=world.variables)
    return Step(commit, failed, before, rerun, between)


def job_order(run: Run, job: str) -> list[str]:
    return [step["name"] or step["uses"] or step["run"] for step in run.act.steps(job)]


def test_a_merge_that_releases_publishes_by_digest_then_tags(world: World, step_a: Step) -> None:
    act = step_a.release.act
    act.expect_success()
    act.expect(act.job_results() == {"gate": "success", "publish": "success"}, "gate and publish ran, no rollback")
    act.expect(act.outputs("gate", "gate") == {"release": "true", "tag": "model-v1", "commit": step_a.commit}, "gate")
    expect_released(world.repo, world.github, act, "model-v1", step_a.commit)
    digest = act.outputs("publish", "push")["digest"]
    assert world.snapshot()["registry"] == {"model-v1": digest, step_a.commit: digest, "latest": digest}
    [build] = world.machine.read_records("builds")
    assert build["pushed"] == [f"{world.image}@{digest}"] and build["tags"] == [], "pushed by digest only"
    [attestation] = world.machine.read_records("attestations")
    assert (attestation["subject_name"], attestation["subject_digest"]) == (world.image, digest)
    release = releases(world.github)["model-v1"]
    assert "model-v1" in release["body"] and release["author"]["login"] == "github-actions[bot]"
    assert [(m, p) for m, p, _ in writes(world.github)] == [
        ("POST", f"/repos/{REPOSITORY}/releases"),
        ("POST", f"/repos/{REPOSITORY}/pulls"),
    ], "two writes: the Release, then the staging deploy pull request"
    assert world.repo.head("refs/heads/deploy/staging/model-v1"), "the staging branch was pushed"
    [pull] = world.github.state["pulls"]
    assert (pull["head_ref"], pull["title"]) == ("deploy/staging/model-v1", "Deploy model-v1 to staging")
    names = job_order(step_a.release, "publish")
    smoke, retag = (
        names.index("Smoke test the pushed image by digest"),
        names.index("Point model-vN, the commit and latest at the tested digest"),
    )
    assert smoke < names.index("Attest build provenance") < retag < names.index("Tag the release in git")


def test_a_merge_that_does_not_release_publishes_nothing(world: World, step_b: Step) -> None:
    act = step_b.release.act
    act.expect_success()
    act.expect(act.job_results() == {"gate": "success"}, "publish is skipped")
    act.expect(act.outputs("gate", "gate").get("release") == "false", "the gate says no release")
    assert world.snapshot() == step_b.before


def test_a_failing_smoke_test_leaves_no_latest_tag_or_release(world: World, step_c: Step) -> None:
    act = step_c.release.act
    act.expect(act.outputs("gate", "gate").get("tag") == "model-v2", "the gate released the better model")
    act.expect_failure("publish", "Smoke test the pushed image by digest")
    act.expect("rehearsal: a broken service" in act.text() or "HTTP 500" in act.text(), "the smoke test's reason")
    digest = act.outputs("publish", "push")["digest"]
    assert registry_has(world.registry, world.image, digest), "the image was pushed, by digest"
    after = world.snapshot()
    assert after["registry"] == step_c.before["registry"], "no tag moved: latest is still model-v1"
    assert digest not in after["registry"].values()
    assert after["git tags"] == step_c.before["git tags"] and after["releases"] == step_c.before["releases"]
    assert after["attestations"] == step_c.before["attestations"], "nothing attested before the smoke test passed"


def test_a_rerun_of_the_same_run_finishes_its_release(world: World, step_d: Step) -> None:
    failed = step_d.release.act
    failed.expect_failure("publish", "Create the GitHub Release")
    assert step_d.between["git tags"].get("model-v2") == step_d.commit, "the first attempt got as far as the git tag"
    assert "model-v2" not in step_d.between["releases"]
    rerun = step_d.rerun.act
    rerun.expect_success()
    rerun.expect(rerun.job_results() == {"gate": "success", "publish": "success"}, "only publish ran again")
    assert step_d.rerun.attempt == 2 and step_d.rerun.id == step_d.release.id
    expect_released(world.repo, world.github, rerun, "model-v2", step_d.commit)
    tags = world.snapshot()["registry"]
    assert tags["model-v2"] == tags[step_d.commit] == tags["latest"] != tags["model-v1"]
    posted = [p for m, p, _ in writes(world.github) if m == "POST"]
    assert posted.count(f"/repos/{REPOSITORY}/releases") == 2, "one Release per model, no duplicate"
    assert world.repo.head("refs/heads/deploy/staging/model-v2"), "the rerun opened the staging PR of model-v2"


def test_a_rerun_does_not_move_a_published_release_tag(world: World, step_d: Step) -> None:
    published = step_d.between["registry"]["model-v2"]  # what model-v2 named once the first attempt tagged it
    now = world.snapshot()["registry"]["model-v2"]
    assert now == published, (
        f"the re-run rebuilt the image and re-pointed the published tag model-v2 from {published} to {now}: "
        f"a release tag must keep naming the image that was smoke-tested and attested first\n"
        f"{step_d.rerun.act.describe()}"
    )


def test_a_rerun_of_an_old_run_after_a_newer_release_publishes_nothing(world: World, step_a: Step, step_c: Step,
                                                                       step_d: Step) -> None:  # fmt: skip
    before = world.snapshot()
    # C's publish failed at the smoke test; re-running it now would publish a stale model as model-v2
    old_publish = world.repo.rerun_failed("release-c-rerun", step_c.release, variables=world.variables).act
    old_publish.expect_failure("publish", "Refuse an out-of-date run")
    # A's run succeeded long ago; re-running all of it gates A again
    old_all = world.repo.rerun_all("release-a-rerun", step_a.release, variables=world.variables).act
    old_all.expect(old_all.outputs("gate", "gate").get("release") == "false", "the gate refuses an old commit")
    old_all.expect("publish" not in old_all.job_results(), "nothing to publish")
    assert world.snapshot() == before


def test_dispatch_from_another_branch_is_refused(world: World, step_d: Step) -> None:
    dev = world.repo.clone("branch")
    dev.append("README.md", "\nAn experiment.\n")
    dev.commit("docs: experiment", branch="experiment")
    dev.push("experiment")
    before = world.snapshot()
    gate = world.repo.dispatch_run("dispatch-branch", "release.yml", branch="experiment",
                                   variables=world.variables).act  # fmt: skip
    gate.expect_failure("gate", "Refuse anything but a passing ci run")
    gate.expect("default branch" in gate.text(), "the refusal says releases come from the default branch")
    rollback = world.repo.dispatch_run("rollback-branch", "deploy.yml", branch="experiment",
                                       inputs={"action": "rollback", "to": "model-v1"}).act  # fmt: skip
    rollback.expect_failure("pull-request", "Refuse a dispatch from another branch")
    assert world.snapshot() == before


MERGES = itertools.count(1)


def merge_pull(world: World, branch: str, theirs: bool = False) -> tuple[str, str]:
    """Merge ``branch`` into main as GitHub's merge button does (the PR is closed); return (before, after)."""
    dev = world.repo.clone(f"merge-{next(MERGES)}-{branch.replace('/', '-')}")
    before = git("rev-parse", "HEAD", cwd=dev.path)
    git("fetch", "--quiet", "origin", cwd=dev.path)
    strategy = ["-X", "theirs"] if theirs else []  # a stale staging PR, as if its bot had rebased it
    git("merge", "--quiet", "--no-ff", *strategy, "-m", f"Merge {branch}", f"origin/{branch}", cwd=dev.path)
    after = dev.push("main")
    with world.github.lock:
        for pull in world.github.state["pulls"]:
            if pull["head_ref"] == branch:
                pull["state"] = "closed"
    return before, after


def promote_and_sync(world: World, name: str, version: str) -> Run:
    """Dispatch deploy.yml's promote, merge its production PR, run deploy.yml for that push (sync-champion)."""
    promote = world.repo.dispatch_run(f"promote-{name}", "deploy.yml", inputs={"action": "promote", "to": ""}).act
    promote.expect_success()
    before, after = merge_pull(world, f"deploy/production/{version}")
    sync = world.repo.push_run(f"sync-{name}", "deploy.yml", before, after, job="sync-champion")
    sync.act.expect_success()
    return sync


def test_promotion_and_rollback_are_pull_requests(world: World, step_a: Step, step_d: Step) -> None:
    images_before = world.snapshot()["registry"]
    merge_pull(world, "deploy/staging/model-v1")
    promote_and_sync(world, "v1", "model-v1")
    assert world.github.state["latest_release"] == "model-v1"
    merge_pull(world, "deploy/staging/model-v2", theirs=True)
    promote_and_sync(world, "v2", "model-v2")
    assert world.github.state["latest_release"] == "model-v2"
    rollback = world.repo.dispatch_run("rollback-v1", "deploy.yml", inputs={"action": "rollback", "to": "model-v1"})
    rollback.act.expect_success()
    pull = world.github.state["pulls"][-1]
    assert (pull["head_ref"], pull["state"], pull["title"]) == (
        "deploy/production/model-v1", "open", "Deploy model-v1 to production"
    )  # fmt: skip
    assert images_before["model-v1"] in pull["body"], "the rollback goes back to model-v1's published digest"
    before, after = merge_pull(world, "deploy/production/model-v1")
    world.repo.push_run("sync-rollback", "deploy.yml", before, after, job="sync-champion").act.expect_success()
    assert world.github.state["latest_release"] == "model-v1"
    assert world.snapshot()["registry"] == images_before, "no image tag moved: deploys are git changes only"
