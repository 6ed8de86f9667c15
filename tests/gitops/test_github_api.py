"""The GitHub REST client against the API stand-in: pagination, errors that name the call, no token leaks."""

from __future__ import annotations

import pytest

from gitops_ml.gitops.github_api import GitHub, GitHubError
from tests.support.github_stub import GitHubStub
from tests.support.processes import free_port

REPO = "octo/template"


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
