"""The GitHub API stand-in answers like GitHub: pagination with Link headers, 401/403/404/422, recorded calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.github_stub import GitHubStub
from tests.support.processes import free_port, stop
from tests.support.projects import ROOT

REPO = "octo/template"
SHA = "1" * 40


def seed(comments: int = 0) -> dict:
    return {
        "repository": REPO,
        "tokens": {"bot-token": "github-actions[bot]", "alice-token": "alice"},
        "pulls": [
            {"number": 7, "head_repo": "alice/template", "head_ref": "tune", "head_sha": SHA},
            {"number": 8, "head_repo": "octo/template", "head_ref": "tune", "head_sha": "2" * 40},
            {"number": 9, "head_repo": "alice/template", "head_ref": "old", "head_sha": SHA, "state": "closed"},
        ],
        "comments": [
            {"id": i + 1, "issue_number": 7, "body": f"c{i + 1}", "user": {"login": "alice"}} for i in range(comments)
        ],
        "releases": [{"id": 1, "tag_name": "model-v1", "name": "model-v1", "body": "first"}],
    }


def client(stub: GitHubStub, token: str | None = "bot-token") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=stub.url, headers=headers, timeout=10)


def test_comments_are_paginated_with_link_headers():
    with GitHubStub(seed(comments=250)) as stub, client(stub) as http:
        first = http.get(f"/repos/{REPO}/issues/7/comments", params={"per_page": 100})
        assert first.status_code == 200
        assert [c["id"] for c in first.json()] == list(range(1, 101))
        assert first.links["last"]["url"].endswith("page=3")
        ids, url = [], f"/repos/{REPO}/issues/7/comments?per_page=100"
        while url:
            page = http.get(url)
            ids += [c["id"] for c in page.json()]
            url = page.links.get("next", {}).get("url")
        assert ids == list(range(1, 251))
        default = http.get(f"/repos/{REPO}/issues/7/comments")
        assert len(default.json()) == 30  # GitHub's default page size
        assert 'rel="next"' in default.headers["link"]
        capped = http.get(f"/repos/{REPO}/issues/7/comments", params={"per_page": 500})
        assert len(capped.json()) == 100
        assert http.get(f"/repos/{REPO}/issues/7/comments", params={"page": 4, "per_page": 100}).json() == []
        assert http.get(f"/repos/{REPO}/issues/7/comments", params={"page": "x"}).status_code == 422


def test_a_single_page_has_no_link_header():
    with GitHubStub(seed(comments=3)) as stub, client(stub) as http:
        response = http.get(f"/repos/{REPO}/issues/7/comments")
        assert len(response.json()) == 3
        assert "link" not in response.headers


def test_pulls_are_filtered_by_head_owner_branch_and_state():
    with GitHubStub(seed()) as stub, client(stub) as http:
        numbers = lambda **q: [p["number"] for p in http.get(f"/repos/{REPO}/pulls", params=q).json()]  # noqa: E731
        assert numbers() == [8, 7]
        assert numbers(head="alice:tune") == [7]
        assert numbers(head="octo:tune") == [8]
        assert numbers(head="alice:old") == []
        assert numbers(head="alice:old", state="closed") == [9]
        assert numbers(state="all") == [9, 8, 7]
        pull = http.get(f"/repos/{REPO}/pulls", params={"head": "alice:tune"}).json()[0]
        head = {"ref": "tune", "sha": SHA, "label": "alice:tune", "repo": {"full_name": "alice/template"}}
        assert pull["head"] == head


def test_a_pull_request_opened_while_serving_is_found():
    with GitHubStub(seed()) as stub, client(stub) as http:
        stub.put_pull(11, "bob/template", "fix", "3" * 40)
        stub.put_pull(7, "alice/template", "tune", "4" * 40)  # a new push to an open PR
        assert [p["number"] for p in http.get(f"/repos/{REPO}/pulls", params={"head": "bob:fix"}).json()] == [11]
        pull = http.get(f"/repos/{REPO}/pulls", params={"head": "alice:tune"}).json()
        assert [(p["number"], p["head"]["sha"], p["base"]["ref"]) for p in pull] == [(7, "4" * 40, "main")]
        assert http.post(f"/repos/{REPO}/issues/11/comments", json={"body": "x"}).status_code == 201


def test_tokens_map_to_authors_and_only_the_author_may_edit():
    with GitHubStub(seed(comments=1)) as stub, client(stub) as bot, client(stub, "alice-token") as alice:
        created = bot.post(f"/repos/{REPO}/issues/7/comments", json={"body": "hello"})
        assert created.status_code == 201
        assert created.json()["user"] == {"login": "github-actions[bot]", "type": "Bot"}
        own = bot.patch(f"/repos/{REPO}/issues/comments/{created.json()['id']}", json={"body": "edited"})
        assert own.status_code == 200
        assert own.json()["body"] == "edited"
        assert bot.patch(f"/repos/{REPO}/issues/comments/1", json={"body": "x"}).status_code == 403
        assert alice.patch(f"/repos/{REPO}/issues/comments/1", json={"body": "mine"}).status_code == 200
        assert [c["body"] for c in stub.comments(7)] == ["mine", "edited"]


def test_refusals_401_404_422_are_answered_and_recorded():
    with GitHubStub(seed()) as stub, client(stub, token=None) as anonymous, client(stub) as bot:
        assert anonymous.get(f"/repos/{REPO}/pulls").status_code == 401
        assert client(stub, "stolen").get(f"/repos/{REPO}/pulls").status_code == 401
        assert bot.get("/repos/other/repo/pulls").status_code == 404
        assert bot.get(f"/repos/{REPO}/actions/runs").status_code == 404
        assert bot.delete(f"/repos/{REPO}/issues/comments/1").status_code == 404
        assert bot.post(f"/repos/{REPO}/issues/99/comments", json={"body": "x"}).status_code == 404
        assert bot.patch(f"/repos/{REPO}/issues/comments/12345", json={"body": "x"}).status_code == 404
        assert bot.post(f"/repos/{REPO}/issues/7/comments", json={"text": "x"}).status_code == 422
        too_long = bot.post(f"/repos/{REPO}/issues/7/comments", json={"body": "x" * 65_537})
        assert too_long.status_code == 422
        assert "too long" in too_long.json()["message"]
        statuses = [(c.method, c.path, c.status) for c in stub.calls]
        assert statuses[:4] == [
            ("GET", f"/repos/{REPO}/pulls", 401),
            ("GET", f"/repos/{REPO}/pulls", 401),
            ("GET", "/repos/other/repo/pulls", 404),
            ("GET", f"/repos/{REPO}/actions/runs", 404),
        ]
        assert stub.calls[0].token is None
        assert stub.calls[1].token == "stolen"
        assert stub.comments(7) == []


def test_releases_by_tag_and_create():
    with GitHubStub(seed()) as stub, client(stub) as http:
        assert http.get(f"/repos/{REPO}/releases/tags/model-v1").json()["body"] == "first"
        assert http.get(f"/repos/{REPO}/releases/tags/model-v2").status_code == 404
        created = http.post(f"/repos/{REPO}/releases", json={"tag_name": "model-v2", "name": "v2", "body": "b"})
        assert created.status_code == 201
        assert created.json()["author"]["login"] == "github-actions[bot]"
        assert http.get(f"/repos/{REPO}/releases/tags/model-v2").json()["name"] == "v2"
        again = http.post(f"/repos/{REPO}/releases", json={"tag_name": "model-v2"})
        assert again.status_code == 422
        assert again.json()["errors"][0]["code"] == "already_exists"
        assert stub.writes()[0].body == {"tag_name": "model-v2", "name": "v2", "body": "b"}


def test_bad_seed_state_is_refused():
    with pytest.raises(ValueError, match="repository"):
        GitHubStub({"repository": "no-slash"})
    with pytest.raises(ValueError, match="head_sha"):
        GitHubStub({"repository": REPO, "pulls": [{"number": 1, "head_repo": "a/b", "head_ref": "x"}]})


def test_runs_as_a_process_and_writes_calls_to_jsonl(tmp_path: Path):
    state, calls = tmp_path / "state.json", tmp_path / "calls.jsonl"
    state.write_text(json.dumps(seed()))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.github_stub", "--port", str(port), "--state", str(state),
         "--calls", str(calls)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()  # printed once the socket listens
        assert line.strip() == f"github_stub listening on http://127.0.0.1:{port}", process.stderr.read()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "token bot-token"}) as http:
            assert http.post(f"/repos/{REPO}/issues/8/comments", json={"body": "from act"}).status_code == 201
            assert http.get(f"/repos/{REPO}/nope").status_code == 404
            live = http.get("/_stub/state").json()
        assert live["comments"][0]["body"] == "from act"
    finally:
        stop(process)
    assert process.returncode == 0
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [(c["method"], c["path"], c["status"], c["token"]) for c in recorded] == [
        ("POST", f"/repos/{REPO}/issues/8/comments", 201, "bot-token"),
        ("GET", f"/repos/{REPO}/nope", 404, "bot-token"),
    ]
    assert recorded[0]["body"] == {"body": "from act"}


def test_concurrent_requests_are_all_recorded():
    import concurrent.futures

    with GitHubStub(seed()) as stub:

        def post(i: int) -> int:
            with client(stub) as http:
                return http.post(f"/repos/{REPO}/issues/7/comments", json={"body": f"n{i}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(post, range(40))) == [201] * 40
        assert len(stub.writes()) == 40
        assert len({c["id"] for c in stub.comments(7)}) == 40
