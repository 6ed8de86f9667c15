"""The GitHub API stand-in answers like GitHub: pagination with Link headers, 401/403/404/422, recorded calls."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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
    # A generous limit: these tests check answers, not speed, and run beside whole pipelines on a 2-core CI machine.
    return httpx.Client(base_url=stub.url, headers=headers, timeout=60)


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


def test_only_the_author_may_delete_a_comment():
    with GitHubStub(seed(comments=1)) as stub, client(stub) as bot:
        created = bot.post(f"/repos/{REPO}/issues/7/comments", json={"body": "hello"}).json()
        assert bot.delete(f"/repos/{REPO}/issues/comments/1").status_code == 403  # alice's
        gone = bot.delete(f"/repos/{REPO}/issues/comments/{created['id']}")
        assert (gone.status_code, gone.content) == (204, b"")
        assert bot.delete(f"/repos/{REPO}/issues/comments/{created['id']}").status_code == 404
        assert [c["id"] for c in stub.comments(7)] == [1]


def test_held_requests_are_answered_once_all_have_arrived():
    """Two reads held until both arrive: neither sees the other's write, however the threads are scheduled."""
    with GitHubStub(seed()) as stub:
        stub.hold("GET", f"/repos/{REPO}/issues/7/comments", parties=2)

        def read_then_write(token: str) -> int:
            with client(stub, token) as http:
                seen = len(http.get(f"/repos/{REPO}/issues/7/comments").json())
                http.post(f"/repos/{REPO}/issues/7/comments", json={"body": token})
                return seen

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert list(pool.map(read_then_write, ["bot-token", "alice-token"])) == [0, 0]
        assert len(stub.comments(7)) == 2
        with client(stub) as http:  # the hold is used up: the next read is answered at once
            assert len(http.get(f"/repos/{REPO}/issues/7/comments").json()) == 2


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


def test_issues_are_listed_by_state_and_label_with_pull_requests_among_them():
    state = seed() | {
        "issues": [
            3,
            {"number": 4, "title": "drift", "labels": ["model-drift"], "user": "github-actions[bot]"},
            {"number": 5, "title": "old drift", "labels": ["model-drift", "retrain"], "state": "closed"},
        ],
    }
    with GitHubStub(state) as stub, client(stub) as http:
        numbers = lambda **q: [i["number"] for i in http.get(f"/repos/{REPO}/issues", params=q).json()]  # noqa: E731
        assert numbers() == [8, 7, 4, 3]  # open issues and pull requests, newest first
        assert numbers(labels="model-drift") == [4]
        assert numbers(labels="model-drift", state="all") == [5, 4]
        assert numbers(labels="model-drift,retrain", state="all") == [5]
        assert numbers(state="closed") == [9, 5]
        listed = {i["number"]: i for i in http.get(f"/repos/{REPO}/issues").json()}
        assert "pull_request" in listed[7] and "pull_request" not in listed[4]
        assert listed[4]["user"] == {"login": "github-actions[bot]", "type": "Bot"}
        assert [label["name"] for label in listed[4]["labels"]] == ["model-drift"]
        assert http.get(f"/repos/{REPO}/issues", params={"state": "bogus"}).status_code == 422
        assert http.get(f"/repos/{REPO}/labels/retrain").status_code == 200  # seeded through an issue


def test_an_issue_is_created_commented_and_closed():
    with GitHubStub(seed()) as stub, client(stub) as http:
        created = http.post(
            f"/repos/{REPO}/issues", json={"title": "Model drift", "body": "b", "labels": ["model-drift"]}
        )
        assert created.status_code == 201
        number = created.json()["number"]
        assert number == 10  # one sequence with the pull requests 7, 8 and 9
        assert created.json()["user"]["login"] == "github-actions[bot]"
        assert http.get(f"/repos/{REPO}/labels/model-drift").status_code == 200  # made by the issue, as GitHub does
        assert http.post(f"/repos/{REPO}/issues/{number}/comments", json={"body": "again"}).status_code == 201
        assert http.get(f"/repos/{REPO}/issues/{number}").json()["comments"] == 1
        closed = http.patch(f"/repos/{REPO}/issues/{number}", json={"state": "closed", "state_reason": "completed"})
        assert closed.status_code == 200
        assert (closed.json()["state"], closed.json()["state_reason"]) == ("closed", "completed")
        assert closed.json()["closed_at"]
        assert stub.issues(label="model-drift", state="open") == []
        assert [i["number"] for i in stub.issues(label="model-drift")] == [number]
        bad = http.patch(f"/repos/{REPO}/issues/{number}", json={"state": "closed", "state_reason": "reopened"})
        assert bad.status_code == 422
        assert http.post(f"/repos/{REPO}/issues", json={"body": "no title"}).status_code == 422
        assert http.post(f"/repos/{REPO}/issues", json={"title": "t", "labels": "x"}).status_code == 422
        assert http.patch(f"/repos/{REPO}/issues/99", json={"state": "closed"}).status_code == 404
        assert http.get(f"/repos/{REPO}/issues/7").json()["pull_request"]  # a PR read as an issue
        stub.put_issue(20, title="by hand", labels=["model-drift", "new-label"], user="alice")
        added = http.get(f"/repos/{REPO}/issues/20").json()
        assert (added["state"], added["user"]["login"]) == ("open", "alice")
        assert http.get(f"/repos/{REPO}/labels/new-label").status_code == 200


def test_labels_are_looked_up_and_created_once():
    with GitHubStub(seed()) as stub, client(stub) as http:
        assert http.get(f"/repos/{REPO}/labels/model-drift").status_code == 404
        made = http.post(f"/repos/{REPO}/labels", json={"name": "model-drift", "color": "d93f0b", "description": "d"})
        assert made.status_code == 201
        assert http.get(f"/repos/{REPO}/labels/model-drift").json()["color"] == "d93f0b"
        again = http.post(f"/repos/{REPO}/labels", json={"name": "Model-Drift", "color": "000000"})
        assert again.status_code == 422
        assert again.json()["errors"][0]["code"] == "already_exists"
        assert http.post(f"/repos/{REPO}/labels", json={"name": "x", "color": "red"}).status_code == 422
        assert [c.status for c in stub.writes()] == [201, 422, 422]


def test_a_pull_request_is_opened_from_a_branch_of_origin(tmp_path: Path):
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    work = tmp_path / "work"
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True, capture_output=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=work, check=True, env=env)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/retrain"], cwd=work, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
    with GitHubStub(seed() | {"origin": str(origin)}) as stub, client(stub) as http:
        made = http.post(
            f"/repos/{REPO}/pulls", json={"title": "Retrain", "head": "retrain", "base": "main", "body": "b"}
        )
        assert made.status_code == 201
        assert (made.json()["number"], made.json()["head"]["sha"], made.json()["body"]) == (10, sha, "b")
        assert [p["number"] for p in http.get(f"/repos/{REPO}/pulls", params={"head": "octo:retrain"}).json()] == [10]
        twice = http.post(f"/repos/{REPO}/pulls", json={"title": "t", "head": "octo:retrain", "base": "main"})
        assert twice.status_code == 422
        assert "already exists" in twice.json()["message"]
        missing = http.post(f"/repos/{REPO}/pulls", json={"title": "t", "head": "nope", "base": "main"})
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "head"
        assert (
            http.post(f"/repos/{REPO}/pulls", json={"title": "t", "head": "alice:x", "base": "main"}).status_code == 422
        )
        assert [p["number"] for p in stub.pulls()] == [7, 8, 9, 10]
