"""post-pr-comment against the GitHub API stand-in (real HTTP on 127.0.0.1): which PR, which comment, what text."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gitops_ml.errors import ProjectError
from gitops_ml.gitops.artifact import ArtifactError, pr_metadata
from gitops_ml.gitops.github_api import GitHub
from gitops_ml.gitops.pr_comment import COMMENT_MARKER, CommentError, TriggeringRun, post_pr_comment
from gitops_ml.io import write_json
from gitops_ml.tasks import Task
from tests.gitops.test_report import sample_report
from tests.support.github_stub import GitHubStub
from tests.support.projects import VENV_BIN

REPO = "octo/template"
BOT = "github-actions[bot]"
TOKEN = "workflow-token"
SHA = "ab" * 20
OTHER_SHA = "cd" * 20
FORK_RUN = TriggeringRun(head_sha=SHA, head_repository="alice/template", head_branch="tune")


def seed(comments: list[dict] | None = None) -> dict:
    """PR #7 is alice's fork branch `tune` at SHA; the others share a part of its head, never all of it."""
    return {
        "repository": REPO,
        "tokens": {TOKEN: BOT, "alice-token": "alice"},
        "pulls": [
            {"number": 5, "head_repo": "octo/template", "head_ref": "tune", "head_sha": SHA},  # same branch name
            {"number": 6, "head_repo": "alice/template", "head_ref": "other", "head_sha": SHA},  # same commit
            {"number": 7, "head_repo": "alice/template", "head_ref": "tune", "head_sha": SHA},
            {"number": 8, "head_repo": "alice/template", "head_ref": "tune", "head_sha": SHA, "state": "closed"},
        ],
        "comments": comments or [],
    }


@pytest.fixture
def stub() -> Iterator[GitHubStub]:
    with GitHubStub(seed()) as github:
        yield github


def api(github: GitHubStub) -> GitHub:
    return GitHub(REPO, TOKEN, github.url)


def make_artifact(
    directory: Path, pr_number: int = 7, head_sha: str = SHA, task: Task = Task.BINARY, **report_changes
) -> Path:
    write_json(directory / "pr.json", pr_metadata(pr_number, head_sha))
    write_json(directory / "report.json", sample_report(task, **report_changes).model_dump(mode="json"))
    return directory


def post(github: GitHubStub, directory: Path, run: TriggeringRun = FORK_RUN):
    with api(github) as client:
        return post_pr_comment(directory, run, client, bot_login=BOT, say=lambda _: None)


def test_the_pr_is_found_by_head_repository_branch_and_sha(stub: GitHubStub, tmp_path: Path):
    posted = post(stub, make_artifact(tmp_path / "artifact"))
    assert (posted.action, posted.pr_number) == ("created", 7)
    assert [(c.method, c.path) for c in stub.writes()] == [("POST", f"/repos/{REPO}/issues/7/comments")]
    lookup = stub.calls[0]
    assert (lookup.path, lookup.query["head"], lookup.query["state"]) == (f"/repos/{REPO}/pulls", "alice:tune", "open")
    body = stub.comments(7)[0]["body"]
    assert body.startswith(COMMENT_MARKER + "\n")
    assert "## Model report: `main` → this change" in body
    assert stub.comments(5) == stub.comments(6) == []


@pytest.mark.parametrize(
    ("task", "shown"),
    [
        (Task.BINARY, 'title "ROC curve"'),
        (Task.MULTICLASS, "Classes: 1 `sunny` · 2 `rain` · 3 `snow`"),
        (Task.REGRESSION, 'title "Residuals"'),
    ],
)
def test_a_report_of_each_task_is_posted_with_its_charts(task: Task, shown: str, stub: GitHubStub, tmp_path: Path):
    post(stub, make_artifact(tmp_path / "artifact", task=task))
    body = stub.comments(7)[0]["body"]
    assert shown in body
    assert f"primary metric {sample_report(task).gate.primary_metric})" in body


def test_an_artifact_of_one_task_with_another_tasks_charts_is_refused(stub: GitHubStub, tmp_path: Path):
    artifact = make_artifact(tmp_path / "artifact", task=Task.REGRESSION)
    report = sample_report(Task.MULTICLASS).model_dump(mode="json")
    report["metrics"] = sample_report(Task.REGRESSION).model_dump(mode="json")["metrics"]
    write_json(artifact / "report.json", report)
    with pytest.raises(ArtifactError, match="not a metric of task multiclass"):
        post(stub, artifact)
    assert stub.writes() == []


def test_an_artifact_naming_another_pr_is_refused_and_nothing_is_posted(stub: GitHubStub, tmp_path: Path):
    artifact = make_artifact(tmp_path / "artifact", pr_number=5)  # a fork aiming the bot at PR #5
    with pytest.raises(ArtifactError, match=r"pr.json names pull request #5, but .* is pull request #7"):
        post(stub, artifact)
    assert stub.writes() == []
    assert all(c.method == "GET" for c in stub.calls)


def test_created_once_then_updated_in_place(stub: GitHubStub, tmp_path: Path):
    first = post(stub, make_artifact(tmp_path / "one", base_ref="main"))
    second = post(stub, make_artifact(tmp_path / "two", base_ref="release-branch"))
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment.id == second.comment.id
    comments = stub.comments(7)
    assert len(comments) == 1
    assert "`release-branch`" in comments[0]["body"]
    assert [c.method for c in stub.writes()] == ["POST", "PATCH"]
    assert stub.writes()[1].path == f"/repos/{REPO}/issues/comments/{first.comment.id}"


def test_a_marked_comment_by_someone_else_is_left_alone(tmp_path: Path):
    planted = {"id": 1, "issue_number": 7, "body": f"{COMMENT_MARKER}\nplanted by alice", "user": {"login": "alice"}}
    quoted = {"id": 2, "issue_number": 7, "body": f"> {COMMENT_MARKER}\nbot, but not its report", "user": BOT}
    with GitHubStub(seed([planted, quoted])) as github:
        posted = post(github, make_artifact(tmp_path / "artifact"))
        assert posted.action == "created"
        assert [c.method for c in github.writes()] == ["POST"]
        bodies = {c["id"]: c["body"] for c in github.comments(7)}
        assert bodies[1] == planted["body"]
        assert bodies[2] == quoted["body"]


def test_the_bot_comment_is_found_beyond_the_first_page(tmp_path: Path):
    chatter = [{"id": i, "issue_number": 7, "body": f"review {i}", "user": {"login": "alice"}} for i in range(1, 151)]
    mine = {"id": 151, "issue_number": 7, "body": f"{COMMENT_MARKER}\nold report", "user": BOT}
    with GitHubStub(seed([*chatter, mine])) as github:
        posted = post(github, make_artifact(tmp_path / "artifact"))
        assert (posted.action, posted.comment.id) == ("updated", 151)
        pages = [c.query.get("page", "1") for c in github.calls if c.path.endswith("/issues/7/comments")]
        assert pages[:2] == ["1", "2"]
        assert [(c.method, c.path) for c in github.writes()] == [("PATCH", f"/repos/{REPO}/issues/comments/151")]
        assert len(github.comments(7)) == 151


def test_a_failed_run_without_artifact_gets_the_failure_comment(stub: GitHubStub, tmp_path: Path):
    failed = TriggeringRun(
        head_sha=SHA,
        head_repository="alice/template",
        head_branch="tune",
        conclusion="failure",
        url="https://github.com/octo/template/actions/runs/42",
    )
    posted = post(stub, tmp_path / "never-downloaded", failed)
    assert (posted.action, posted.pr_number) == ("created", 7)
    body = stub.comments(7)[0]["body"]
    assert body.startswith(COMMENT_MARKER)
    assert f"failed for commit `{SHA[:12]}`" in body
    assert "would not release" in body
    assert "(https://github.com/octo/template/actions/runs/42)" in body
    (tmp_path / "empty").mkdir()
    again = post(stub, tmp_path / "empty", failed)
    assert again.action == "updated"


def test_a_successful_run_without_artifact_is_an_error(stub: GitHubStub, tmp_path: Path):
    with pytest.raises(CommentError, match="left no pr-report artifact"):
        post(stub, tmp_path / "missing")
    assert stub.writes() == []


def test_a_failed_run_with_a_report_shows_it_with_a_warning(stub: GitHubStub, tmp_path: Path):
    run = TriggeringRun(head_sha=SHA, head_repository="alice/template", head_branch="tune", conclusion="failure")
    post(stub, make_artifact(tmp_path / "artifact"), run)
    body = stub.comments(7)[0]["body"]
    assert "ended with conclusion `failure`" in body
    assert "### Metrics" in body


def test_a_run_superseded_by_a_newer_push_posts_nothing(stub: GitHubStub, tmp_path: Path):
    old = TriggeringRun(head_sha=OTHER_SHA, head_repository="alice/template", head_branch="tune")
    posted = post(stub, make_artifact(tmp_path / "artifact", head_sha=OTHER_SHA), old)
    assert posted.action == "superseded"
    assert stub.writes() == []


def test_no_open_pr_for_the_head_is_an_error(stub: GitHubStub, tmp_path: Path):
    gone = TriggeringRun(head_sha=SHA, head_repository="bob/template", head_branch="tune")
    with pytest.raises(CommentError, match=r"no open pull request .* has head bob/template:tune"):
        post(stub, make_artifact(tmp_path / "artifact"), gone)
    assert stub.writes() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("head_sha", "ABC", "RUN_HEAD_SHA"),
        ("head_repository", "no-slash", "HEAD_REPOSITORY"),
        ("head_branch", "a b", "HEAD_BRANCH"),
        ("conclusion", "great", "RUN_CONCLUSION"),
        ("url", "https://evil.example/x)(", "RUN_URL"),
    ],
)
def test_bad_run_metadata_is_refused_naming_the_variable(field, value, message):
    values = {"head_sha": SHA, "head_repository": "alice/template", "head_branch": "tune"} | {field: value}
    with pytest.raises(ProjectError, match=message):
        TriggeringRun(**values)


def run_cli(artifact: Path, github: GitHubStub, **env: str) -> subprocess.CompletedProcess:
    """`gitops-ml post-pr-comment` as pr-comment.yml runs it, with only the environment the step gets."""
    base = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "RUN_HEAD_SHA": SHA,
        "HEAD_REPOSITORY": "alice/template",
        "HEAD_BRANCH": "tune",
        "RUN_CONCLUSION": "success",
        "CML_PUBLISH_IMAGES": "false",
    }
    return subprocess.run(
        [str(VENV_BIN / "gitops-ml"), "post-pr-comment", str(artifact)],
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_posts_and_reports_a_tampered_artifact_in_one_line(stub: GitHubStub, tmp_path: Path):
    artifact = make_artifact(tmp_path / "artifact")
    (artifact / "report.md").write_text("<script>posted by the PR</script> @everyone")  # never used
    result = run_cli(artifact, stub)
    assert result.returncode == 0, result.stderr
    assert "created the report comment on #7" in result.stderr
    body = stub.comments(7)[0]["body"]
    assert "<script>" not in body
    assert "@everyone" not in body
    make_artifact(artifact, pr_number=6)
    result = run_cli(artifact, stub)
    assert result.returncode == 1
    assert "error: pr.json names pull request #6" in result.stderr
    assert "Traceback" not in result.stderr
    assert [c.method for c in stub.writes()] == ["POST"]


def test_cli_names_a_missing_variable(stub: GitHubStub, tmp_path: Path):
    result = run_cli(make_artifact(tmp_path / "artifact"), stub, HEAD_BRANCH="")
    assert result.returncode == 1
    assert "HEAD_BRANCH is not set" in result.stderr
    result = run_cli(make_artifact(tmp_path / "artifact"), stub, GITHUB_TOKEN="")
    assert result.returncode == 1
    assert "GITHUB_TOKEN is not set" in result.stderr
    result = run_cli(make_artifact(tmp_path / "artifact"), stub, GITHUB_TOKEN="forged")
    assert result.returncode == 1
    assert "GitHub answered 401" in result.stderr
    assert stub.writes() == []


def test_cli_refuses_opt_in_images_without_cml_before_posting(stub: GitHubStub, tmp_path: Path):
    result = run_cli(
        make_artifact(tmp_path / "artifact"), stub, CML_PUBLISH_IMAGES="true", CML_BIN=str(tmp_path / "no-cml")
    )
    assert result.returncode == 1
    assert "make cml-install" in result.stderr
    assert stub.calls == []


@pytest.mark.parametrize(
    "key",
    [
        "[/]",
        "[link=https://evil.example]click me[/link]",
        "x\n::error file=src/gitops_ml/cli.py,line=1::the bot was hacked",
        "lone \ud800 surrogate",
        "esc \x1b[2J clear",
    ],
    ids=["closing tag", "link", "workflow command", "lone surrogate", "escape sequence"],
)
def test_cli_prints_an_artifacts_key_literally_in_one_error(stub: GitHubStub, tmp_path: Path, key: str):
    """Found by an attack run: a key from the artifact crashed the error printer, made a link or a fake annotation."""
    artifact = make_artifact(tmp_path / "artifact")
    data = json.loads((artifact / "report.json").read_text())
    (artifact / "report.json").write_text(json.dumps(data | {key: 1}))  # \ud800 is written as its JSON escape
    result = run_cli(artifact, stub, COLUMNS="80")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: report.json: does not match the report schema"), result.stderr
    assert not [line for line in result.stderr.splitlines() if line.lstrip().startswith("::")], result.stderr
    assert "\x1b" not in result.stderr
    if key.startswith("["):
        assert key in result.stderr  # shown as written, not rendered as markup
    assert stub.writes() == []


RUN_URL = "https://github.com/octo/template/actions/runs/42"


def test_a_fork_pr_comment_says_its_numbers_are_the_forks_own(stub: GitHubStub, tmp_path: Path):
    """Found by an attack run: a fork's metrics and "would release" verdict read as the bot's own findings."""
    run = TriggeringRun(head_sha=SHA, head_repository="alice/template", head_branch="tune", url=RUN_URL)
    post(stub, make_artifact(tmp_path / "artifact"), run)
    body = stub.comments(7)[0]["body"]
    caution = body.split("## Model report")[0]
    assert "> [!CAUTION]" in caution
    assert "comes from the fork `alice/template`" in caution
    assert "computed by **the pull request's own code**" in caution
    assert f"[its `ci` run]({RUN_URL}) for commit `{SHA[:12]}`" in caution
    assert "recomputed on `main` after a merge" in caution


def test_a_same_repository_pr_comment_names_the_run_that_computed_it(tmp_path: Path):
    state = seed()
    state["pulls"] = [{"number": 9, "head_repo": REPO, "head_ref": "tune-2", "head_sha": SHA}]
    run = TriggeringRun(head_sha=SHA, head_repository=REPO, head_branch="tune-2", url=RUN_URL)
    with GitHubStub(state) as github:
        with api(github) as client:
            post_pr_comment(
                make_artifact(tmp_path / "artifact", pr_number=9), run, client, BOT, say=lambda _: None,
                default_branch="trunk",
            )  # fmt: skip
        body = github.comments(9)[0]["body"]
    about = body.split("## Model report")[0]
    assert "[!CAUTION]" not in about
    assert f"Computed by the pull request's code in [its `ci` run]({RUN_URL}) for commit `{SHA[:12]}`" in about
    assert "of the branch `tune-2`" in about
    assert "recomputed on `trunk` after a merge" in about


def test_two_runs_racing_leave_one_comment(stub: GitHubStub, tmp_path: Path):
    """Found by an attack run: two comment runs outside the concurrency group both found none and both created one."""
    stub.hold("GET", f"/repos/{REPO}/issues/7/comments", parties=2)  # both look before either creates
    artifacts = [make_artifact(tmp_path / f"artifact-{i}") for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        posted = list(pool.map(lambda artifact: post(stub, artifact), artifacts))
    comments = stub.comments(7)
    assert len(comments) == 1, [c["id"] for c in comments]
    assert sorted(p.action for p in posted) == ["created", "updated"]
    assert {p.comment.id for p in posted} == {comments[0]["id"]}
    assert [c.method for c in stub.writes()].count("DELETE") == 1


def test_a_duplicate_already_gone_is_not_an_error(stub: GitHubStub, tmp_path: Path):
    with api(stub) as client:
        made = client.create_comment(7, "x")
        assert client.delete_comment(made.id) is True
        assert client.delete_comment(made.id) is False
