"""The GitHub REST client against the API stand-in: pagination, errors that name the call, no token leaks."""

from __future__ import annotations

import pytest

from gitops_ml.gitops.github_api import GitHub, GitHubError
from tests.support.github_stub import GitHubStub
from tests.support.processes import free_port

REPO = "octo/template"
BOT = "github-actions[bot]"


def seed(comments: int) -> dict:
    return {
        "repository": REPO,
        "tokens": {"t": "github-actions[bot]"},
        "pulls": [{"number": 1, "head_repo": REPO, "head_ref": "b", "head_sha": "1" * 40}],
        "comments": [{"id": i, "issue_number": 1, "body": str(i), "user": "alice"} for i in range(1, comments + 1)],
    }


def test_all_pages_are_followed():
    with GitHubStub(seed(comments=250)) as stub, GitHub(REPO, "t", stub.url) as api:
        comments = api.issue_comments(1)
    assert [c.id for c in comments] == list(range(1, 251))
    assert comments[0].user_login == "alice"
    pages = [(c.query.get("per_page"), c.query.get("page")) for c in stub.calls]
    assert pages == [("100", None), ("100", "2"), ("100", "3")]
    assert {c.token for c in stub.calls} == {"t"}


def test_an_http_error_names_the_call_and_the_status():
    with GitHubStub(seed(comments=0)) as stub:
        with GitHub(REPO, "wrong", stub.url) as api, pytest.raises(GitHubError) as caught:
            api.open_pulls_from("alice/template", "b")
        message = str(caught.value)
        assert "list open pull requests from alice/template:b: GitHub answered 401" in message
        assert "Bad credentials" in message
        assert "GITHUB_TOKEN" in message
        with GitHub(REPO, "t", stub.url) as api, pytest.raises(GitHubError, match=r"comment on #99: .* 404"):
            api.create_comment(99, "x")


def test_an_unreachable_api_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    with GitHub(REPO, "t", url) as api, pytest.raises(GitHubError, match=r"look up the release of model-v1: GET"):
        api.release_by_tag("model-v1")


def test_a_next_page_on_another_host_is_not_followed():
    """The stand-in's links say 127.0.0.1; a client configured for `localhost` must not send its token there."""
    with GitHubStub(seed(comments=150)) as stub:
        api = GitHub(REPO, "t", f"http://localhost:{stub.port}")
        with api, pytest.raises(GitHubError, match="another host"):
            api.issue_comments(1)
        assert len(stub.calls) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GITHUB_REPOSITORY": "octo", "GITHUB_TOKEN": "t"}, "GITHUB_REPOSITORY"),
        ({"GITHUB_REPOSITORY": REPO}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t", "GITHUB_API_URL": "file:///etc"}, "GITHUB_API_URL"),
    ],
)
def test_configuration_errors_name_the_variable(env, message):
    with pytest.raises(GitHubError, match=message):
        GitHub.from_env(env)


def test_the_default_api_url_is_github():
    with GitHub.from_env({"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t"}) as api:
        assert api.api_url == "https://api.github.com"


def test_issues_with_a_label_skip_pull_requests_and_follow_pages():
    state = seed(comments=0) | {
        "issues": [{"number": n, "labels": ["model-drift"]} for n in range(2, 152)] + [{"number": 152}],
    }
    state["pulls"][0]["labels"] = ["model-drift"]  # the issues endpoint lists it too; the client drops it
    with GitHubStub(state) as stub, GitHub(REPO, "t", stub.url) as api:
        found = api.issues_with_label("model-drift")
        assert [i.number for i in found] == list(range(2, 152))
        assert found[0].labels == ("model-drift",)
        assert api.issues_with_label("model-drift", state="closed") == []
    assert [c.query.get("page") for c in stub.calls] == [None, "2", None]


def test_an_issue_is_opened_labelled_and_closed():
    with GitHubStub(seed(comments=0)) as stub, GitHub(REPO, "t", stub.url) as api:
        assert api.ensure_label("model-drift", "d93f0b", "Data drift found by monitor.yml") is True
        assert api.ensure_label("model-drift", "d93f0b", "Data drift found by monitor.yml") is False
        issue = api.create_issue("Model drift", "report", labels=("model-drift",))
        assert (issue.number, issue.state, issue.labels, issue.user_login) == (2, "open", ("model-drift",), BOT)
        assert issue.html_url.endswith(f"/{REPO}/issues/2")
        closed = api.close_issue(issue.number)
        assert closed.state == "closed"
        assert stub.issues()[0]["state_reason"] == "completed"
    assert [(c.method, c.status) for c in stub.calls] == [
        ("GET", 404), ("POST", 201), ("GET", 200), ("POST", 201), ("PATCH", 200),
    ]  # fmt: skip


def test_a_pull_request_is_created_and_found_by_its_head():
    with GitHubStub(seed(comments=0)) as stub, GitHub(REPO, "t", stub.url) as api:
        made = api.create_pull("Retrain", "retrain/2026-01-01-x", "main", "body")
        assert (made.number, made.head_ref, made.base_ref, made.state) == (2, "retrain/2026-01-01-x", "main", "open")
        assert made.html_url.endswith(f"/{REPO}/pull/2")
        assert [p.number for p in api.open_pulls_from(REPO, "retrain/2026-01-01-x")] == [2]
        with pytest.raises(GitHubError, match=r"open a pull request from retrain/2026-01-01-x: .*422.*"):
            api.create_pull("Retrain", "retrain/2026-01-01-x", "main", "body")
    assert stub.writes()[0].body == {"title": "Retrain", "head": "retrain/2026-01-01-x", "base": "main", "body": "body"}


def test_issue_calls_name_the_call_when_refused():
    with (
        GitHubStub(seed(comments=0)) as stub,
        GitHub(REPO, "t", stub.url) as api,
        pytest.raises(GitHubError, match=r"close issue #42: GitHub answered 404"),
    ):
        api.close_issue(42)
    with GitHubStub(seed(comments=0)) as stub, GitHub(REPO, "wrong", stub.url) as api:
        with pytest.raises(GitHubError, match=r"list open issues labelled model-drift: GitHub answered 401"):
            api.issues_with_label("model-drift")
        with pytest.raises(GitHubError, match=r"open an issue: GitHub answered 401"):
            api.create_issue("t", "b")
