"""A stand-in for the few GitHub REST endpoints this project calls, on 127.0.0.1, recording every call.

GitHub itself cannot be reached from tests or rehearsals, so the code that talks to its API
(:mod:`gitops_ml.gitops.github_api`) is pointed here with ``GITHUB_API_URL``. The stand-in holds the state a test
seeds (repository, pull requests, issue comments, releases, which token is which user), answers with GitHub's
JSON shapes and status codes, and records every request so a test can assert on what would have been posted.

Endpoints (GitHub REST semantics, including ``per_page``/``page`` and a ``Link`` header with ``rel="next"``):

- ``GET   /repos/{o}/{r}/pulls?state=open&head={owner}:{branch}&base=...&per_page&page``
- ``GET   /repos/{o}/{r}/issues/{n}/comments?per_page&page``
- ``POST  /repos/{o}/{r}/issues/{n}/comments`` ``{"body"}`` → 201, authored by the token's user
- ``PATCH /repos/{o}/{r}/issues/comments/{id}`` ``{"body"}`` → 200, or 403 when the token's user is not the author
  (stricter than GitHub, where a maintainer's token may edit anyone's comment: code must pick its own comment)
- ``DELETE /repos/{o}/{r}/issues/comments/{id}`` → 204, 404 when there is no such comment, or 403 when the token's
  user is not the author (stricter than GitHub, as for PATCH)
- ``POST  /repos/{o}/{r}/pulls`` ``{"title", "head", "base", "body"}`` → 201 (the number is shared with issues), or
  422 when an open pull request from that head exists, or (when the state names a bare git ``origin``) when the
  head branch is not in it; the head's SHA is read from ``origin`` (``0`` * 40 without one)
- ``GET   /repos/{o}/{r}/issues?state=open|closed|all&labels=a,b&per_page&page`` → issues and pull requests (these
  with a ``pull_request`` key, as GitHub lists them), newest first, with every named label
- ``POST  /repos/{o}/{r}/issues`` ``{"title", "body", "labels"}`` → 201; a label that does not exist is created
- ``GET   /repos/{o}/{r}/issues/{n}`` → 200 or 404
- ``PATCH /repos/{o}/{r}/issues/{n}`` ``{"title", "body", "state", "state_reason", "labels"}`` → 200
- ``GET   /repos/{o}/{r}/labels/{name}`` → 200 or 404
- ``POST  /repos/{o}/{r}/labels`` ``{"name", "color", "description"}`` → 201, or 422 when it exists
- ``GET   /repos/{o}/{r}/releases/tags/{tag}`` → 200 or 404
- ``POST  /repos/{o}/{r}/releases`` ``{"tag_name", "name", "body", ...}`` → 201, or 422 when the tag has a release
  (a release made with ``make_latest`` "true", the default, becomes ``state["latest_release"]``)
- ``PATCH /repos/{o}/{r}/releases/{id}`` ``{"make_latest": "true"}`` → 200; the release becomes the latest
- ``PATCH /repos/{o}/{r}/pulls/{n}`` ``{"title", "body", "state"}`` → 200

:meth:`GitHubStub.hold` makes a race certain: the next N requests to a path wait for each other before any is
answered, as N runs that all read before any of them wrote.

A missing or unknown token answers 401 on every endpoint; a repository other than the seeded one, or any other
path, answers 404. Every request is recorded (also the refused ones) as a :class:`Call`. Bodies (of comments,
issues and pull requests) over GitHub's 65,536-character limit are refused with 422, as GitHub does.
``GET /_stub/state`` (no token, not recorded) returns the current state, for a rehearsal that runs the stand-in
in another process.

Seed state (a dict, or a JSON file with ``--state``)::

    {
      "repository": "octo/template",
      "tokens": {"workflow-token": "github-actions[bot]", "alice-token": "alice"},
      "pulls": [{"number": 7, "head_repo": "alice/template", "head_ref": "tune", "head_sha": "<40 hex>",
                 "base_ref": "main", "state": "open"}],
      "issues": [3, {"number": 4, "title": "Model drift", "body": "...", "labels": ["model-drift"],
                     "state": "open", "user": "github-actions[bot]"}],
      "labels": [{"name": "model-drift", "color": "d93f0b", "description": "..."}],
      "comments": [{"id": 1, "issue_number": 7, "body": "hi", "user": {"login": "alice", "type": "User"}}],
      "releases": [{"id": 1, "tag_name": "model-v1", "name": "model-v1", "body": "..."}],
      "origin": "/path/to/bare/repository.git"
    }

``issues`` holds the issues that are not pull requests (comments may go on both): a bare number is an open issue
with no labels; labels named by an issue or a pull request are added to ``labels``. A user's ``type`` defaults to
``Bot`` for logins ending in ``[bot]``, else ``User``. ``origin`` (optional) is the git repository that new pull
requests' head branches are looked up in.

Use it in a test as a context manager (a thread in the test process)::

    with GitHubStub(state) as github:
        env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": "workflow-token"}
        ...
        assert [c.method for c in github.calls if c.method != "GET"] == ["POST"]

or as its own process, for workflow steps that act runs in other processes (calls appended to a JSONL file)::

    python -m tests.support.github_stub --port 8765 --state state.json --calls calls.jsonl

Why the standard library's ``http.server``: a dozen small JSON endpoints with no framework, no extra dependency and
no event loop, so the same class runs in a pytest thread and as a separate process; ``ThreadingHTTPServer``
answers concurrent requests, and one lock guards the state.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import re
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

COMMENT_LIMIT = 65_536
NO_SHA = "0" * 40
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
_REPO_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)$")


@dataclass(frozen=True)
class Call:
    """One request the stand-in received: what was asked, with which token, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: str | None
    status: int

    def to_json(self) -> str:
        """One JSON line, as written to the calls file."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Hold:
    method: str
    path: re.Pattern[str]
    barrier: threading.Barrier
    left: int


class _HttpError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.reply = _Reply(status, {"message": message, **extra})


def _user(login: str, users: dict[str, str] | None = None) -> dict[str, Any]:
    kind = (users or {}).get(login) or ("Bot" if login.endswith("[bot]") else "User")
    return {"login": login, "type": kind}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Server(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a listen backlog for bursts: with the default 5, a burst of concurrent clients
    on a busy machine overflows the accept queue, and a client whose handshake the kernel dropped waits for
    retransmissions (seconds) before its request is read."""

    request_queue_size = 128
    daemon_threads = True


class GitHubStub:
    """The stand-in server. ``state`` is copied; read the live one through :attr:`state` (under :attr:`lock`)."""

    def __init__(self, state: dict[str, Any], port: int = 0, calls_path: Path | None = None) -> None:
        self.state = self._normalise(copy.deepcopy(state))
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self._holds: list[_Hold] = []
        self.calls_path = calls_path
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port it listens on (chosen by the OS when 0 was asked)."""
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL to put in ``GITHUB_API_URL``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GitHubStub:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-stub", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (the command-line entry point)."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> GitHubStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- races ------------------------------------------------------------------------------------------------

    def hold(self, method: str, path: str, parties: int, timeout_s: float = 10.0) -> None:
        """Make the next ``parties`` requests of ``method`` whose path matches the regex ``path`` wait until all of
        them have arrived, then answer them (in any order): concurrent callers that all read before any wrote.

        A request whose companions do not come within ``timeout_s`` is answered anyway (the hold breaks)."""
        with self.lock:
            self._holds.append(_Hold(method, re.compile(path), threading.Barrier(parties, timeout=timeout_s), parties))

    def _held(self, method: str, path: str) -> threading.Barrier | None:
        """The barrier this request waits at before its answer is sent, if a hold takes it (call under :attr:`lock`).

        The answer is computed when the request arrives, before the wait: held reads all see the state from before
        any of their callers' next writes, whichever thread the scheduler runs first after the barrier opens."""
        for hold in self._holds:
            if hold.method == method and hold.path.fullmatch(path) and hold.left > 0:
                hold.left -= 1
                return hold.barrier
        return None

    # --- what tests read ---------------------------------------------------------------------------------

    def writes(self) -> list[Call]:
        """Recorded calls other than GET (what would have changed something on GitHub)."""
        with self.lock:
            return [c for c in self.calls if c.method != "GET"]

    def put_pull(self, number: int, head_repo: str, head_ref: str, head_sha: str, **more: Any) -> None:
        """Open pull request ``number`` (or replace it) while serving; ``more``: ``base_ref``, ``state``."""
        pull = {"number": number, "head_repo": head_repo, "head_ref": head_ref, "head_sha": head_sha, **more}
        with self.lock:
            self.state["pulls"] = [p for p in self.state["pulls"] if p["number"] != number]
            self.state["pulls"].append(
                self._normalise({"repository": self.state["repository"], "pulls": [pull]})["pulls"][0]
            )

    def put_issue(self, number: int, **fields: Any) -> None:
        """Add issue ``number`` (or replace it) while serving; ``fields`` as in the seed state's ``issues``."""
        with self.lock:
            seed = {"repository": self.state["repository"], "users": self.state["users"],
                    "labels": self.state["labels"], "issues": [{"number": number, **fields}]}  # fmt: skip
            issue = self._normalise(seed)["issues"][0]
            self.state["issues"] = [i for i in self.state["issues"] if i["number"] != number] + [issue]

    def comments(self, issue_number: int) -> list[dict[str, Any]]:
        """The comments on ``issue_number`` now, oldest first."""
        with self.lock:
            return [copy.deepcopy(c) for c in self.state["comments"] if c["issue_number"] == issue_number]

    def issues(self, label: str | None = None, state: str = "all") -> list[dict[str, Any]]:
        """The issues (not pull requests) now, oldest first; only those with ``label`` and in ``state`` if given."""
        with self.lock:
            return [
                copy.deepcopy(i)
                for i in sorted(self.state["issues"], key=lambda i: i["number"])
                if (label is None or label in i["labels"]) and state in ("all", i["state"])
            ]

    def pulls(self) -> list[dict[str, Any]]:
        """The pull requests now, oldest first."""
        with self.lock:
            return [copy.deepcopy(p) for p in sorted(self.state["pulls"], key=lambda p: p["number"])]

    # --- state -----------------------------------------------------------------------------------------------

    @staticmethod
    def _normalise(state: dict[str, Any]) -> dict[str, Any]:
        if not re.fullmatch(r"[^/\s]+/[^/\s]+", str(state.get("repository", ""))):
            raise ValueError("state: 'repository' must be 'owner/name'")
        state.setdefault("tokens", {})
        state.setdefault("users", {})
        state.setdefault("releases", [])
        state.setdefault("labels", [])
        for pull in state.setdefault("pulls", []):
            missing = {"number", "head_repo", "head_ref", "head_sha"} - pull.keys()
            if missing:
                raise ValueError(f"state: pull request {pull} lacks {sorted(missing)}")
            pull.setdefault("base_ref", "main")
            pull.setdefault("state", "open")
            pull.setdefault("title", f"pull request {pull['number']}")
            pull.setdefault("body", "")
            pull.setdefault("labels", [])
        issues = []
        for issue in state.setdefault("issues", []):
            issue = {"number": issue} if isinstance(issue, int) else issue
            if not isinstance(issue.get("number"), int):
                raise ValueError(f"state: issue {issue} needs an integer 'number'")
            issue.setdefault("title", f"issue {issue['number']}")
            issue.setdefault("body", "")
            issue.setdefault("labels", [])
            issue.setdefault("state", "open")
            issue.setdefault("state_reason", None)
            issue["user"] = (
                _user(issue["user"], state["users"])
                if isinstance(issue.get("user"), str)
                else (issue.get("user") or _user("octocat", state["users"]))
            )
            issue.setdefault("created_at", _now())
            issue.setdefault("closed_at", None)
            issues.append(issue)
        state["issues"] = issues
        known = {label["name"] for label in state["labels"]}
        for item in [*issues, *state["pulls"]]:
            for name in item["labels"]:
                if name not in known:
                    state["labels"].append({"name": name, "color": "ededed", "description": ""})
                    known.add(name)
        for comment in state.setdefault("comments", []):
            if isinstance(comment.get("user"), str):
                comment["user"] = _user(comment["user"], state["users"])
            comment["user"] = {**_user(comment["user"]["login"], state["users"]), **comment["user"]}
            comment.setdefault("created_at", _now())
            comment.setdefault("updated_at", comment["created_at"])
        return state

    def _next_id(self, items: list[dict[str, Any]], start: int) -> int:
        return max([start, *(int(item["id"]) for item in items)]) + 1

    # --- HTTP --------------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the calls are recorded instead
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if method == "GET" and parts.path == "/_stub/state":
                    with stub.lock:
                        self._send(_Reply(200, copy.deepcopy(stub.state)))
                    return
                token = _token(self.headers.get("Authorization"))
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with stub.lock:
                    try:
                        reply = stub._route(method, parts.path, query, body, token)
                    except _HttpError as exc:
                        reply = exc.reply
                    call = Call(method, unquote(parts.path), query, body, token, reply.status)
                    stub.calls.append(call)
                    if stub.calls_path:
                        with stub.calls_path.open("a", encoding="utf-8") as handle:
                            handle.write(call.to_json() + "\n")
                    barrier = stub._held(method, parts.path)
                if barrier is not None:  # answered as of its arrival, sent once its companions have arrived too
                    with contextlib.suppress(threading.BrokenBarrierError):
                        barrier.wait()
                self._send(reply)

            def _send(self, reply: _Reply) -> None:
                data = b"" if reply.status == 204 else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, token: str | None) -> _Reply:
        identity = self.state["tokens"].get(token or "")
        if identity is None:
            raise _HttpError(401, "Bad credentials")
        match = _REPO_PATH.match(path)
        if not match or f"{match['owner']}/{match['name']}".lower() != self.state["repository"].lower():
            raise _HttpError(404, "Not Found")
        rest = match["rest"]
        routes = (
            ("GET", r"/pulls", self._list_pulls),
            ("POST", r"/pulls", self._create_pull),
            ("GET", r"/issues", self._list_issues),
            ("POST", r"/issues", self._create_issue),
            ("GET", r"/issues/(\d+)", self._get_issue),
            ("PATCH", r"/issues/(\d+)", self._update_issue),
            ("GET", r"/labels/([^/]+)", self._get_label),
            ("POST", r"/labels", self._create_label),
            ("PATCH", r"/pulls/(\d+)", self._update_pull),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._update_comment),
            ("DELETE", r"/issues/comments/(\d+)", self._delete_comment),
            ("GET", r"/releases/tags/([^/]+)", self._get_release),
            ("POST", r"/releases", self._create_release),
            ("PATCH", r"/releases/(\d+)", self._update_release),
        )
        for verb, pattern, action in routes:
            found = re.fullmatch(pattern, rest)
            if verb == method and found:
                return action(*(unquote(g) for g in found.groups()), query=query, body=body, identity=identity)
        raise _HttpError(404, "Not Found")

    # --- endpoints ---------------------------------------------------------------------------------------

    def _page(self, path: str, query: dict[str, str], items: list[dict[str, Any]]) -> _Reply:
        try:
            per_page = min(int(query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
            page = int(query.get("page", 1))
        except ValueError:
            raise _HttpError(422, "per_page and page must be integers") from None
        if per_page < 1 or page < 1:
            raise _HttpError(422, "per_page and page must be positive")
        last = max(1, -(-len(items) // per_page))
        headers = {}
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                target = urlencode({**query, "per_page": per_page, "page": number}, quote_via=quote)
                links.append(f'<{self.url}{quote(path)}?{target}>; rel="{rel}"')
        if links:
            headers["Link"] = ", ".join(links)
        return _Reply(200, items[(page - 1) * per_page : page * per_page], headers)

    def _pull_json(self, pull: dict[str, Any]) -> dict[str, Any]:
        owner = pull["head_repo"].split("/")[0]
        return {
            "number": pull["number"],
            "state": pull.get("state", "open"),
            "title": pull.get("title", ""),
            "body": pull.get("body", ""),
            "labels": [self._label_json(name) for name in pull.get("labels", [])],
            "html_url": f"https://github.com/{self.state['repository']}/pull/{pull['number']}",
            "head": {
                "ref": pull["head_ref"],
                "sha": pull["head_sha"],
                "label": f"{owner}:{pull['head_ref']}",
                "repo": {"full_name": pull["head_repo"]},
            },
            "base": {"ref": pull.get("base_ref", "main"), "repo": {"full_name": self.state["repository"]}},
        }

    def _list_pulls(self, query: dict[str, str], **_: Any) -> _Reply:
        wanted_state = query.get("state", "open")
        pulls = sorted(self.state["pulls"], key=lambda p: -int(p["number"]))
        if wanted_state != "all":
            pulls = [p for p in pulls if p.get("state", "open") == wanted_state]
        if "head" in query:
            owner, _, branch = query["head"].partition(":")
            pulls = [
                p
                for p in pulls
                if p["head_repo"].split("/")[0].lower() == owner.lower() and (not branch or p["head_ref"] == branch)
            ]
        if "base" in query:
            pulls = [p for p in pulls if p.get("base_ref", "main") == query["base"]]
        return self._page(f"/repos/{self.state['repository']}/pulls", query, [self._pull_json(p) for p in pulls])

    def _update_pull(self, number: str, body: Any, **_: Any) -> _Reply:
        pull = next((p for p in self.state["pulls"] if int(p["number"]) == int(number)), None)
        if pull is None:
            raise _HttpError(404, "Not Found")
        if isinstance(body, dict):
            pull.update({k: body[k] for k in ("title", "body", "state") if k in body})
        return _Reply(200, self._pull_json(pull))

    def _issue(self, number: str) -> int:
        known = {int(p["number"]) for p in self.state["pulls"]} | {int(i["number"]) for i in self.state["issues"]}
        if int(number) not in known:
            raise _HttpError(404, "Not Found")
        return int(number)

    def _next_number(self) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return (
            max(
                [0, *(int(p["number"]) for p in self.state["pulls"]), *(int(i["number"]) for i in self.state["issues"])]
            )
            + 1
        )

    # --- pull requests: create -------------------------------------------------------------------------------

    def _head_sha(self, branch: str) -> str:
        origin = self.state.get("origin")
        if not origin:
            return NO_SHA
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
            cwd=origin, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if found.returncode != 0:
            raise _HttpError(
                422, "Validation Failed", errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}]
            )
        return found.stdout.strip()

    def _create_pull(self, body: Any, identity: str, **_: Any) -> _Reply:
        if not isinstance(body, dict):
            raise _HttpError(422, "Invalid request: expected a JSON object")
        for key in ("title", "head", "base"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise _HttpError(422, f"Invalid request: '{key}' must be a non-empty string")
        text = self._body_text({"body": body.get("body") or ""})
        owner, _, branch = body["head"].rpartition(":")
        owner = owner or self.state["repository"].split("/")[0]
        if owner.lower() != self.state["repository"].split("/")[0].lower():
            raise _HttpError(422, "Validation Failed: only heads of this repository are served by the stand-in")
        if any(p["state"] == "open" and p["head_ref"] == branch and p["head_repo"] == self.state["repository"]
               for p in self.state["pulls"]):  # fmt: skip
            raise _HttpError(
                422,
                f"A pull request already exists for {owner}:{branch}.",
                errors=[{"resource": "PullRequest", "code": "custom",
                         "message": f"A pull request already exists for {owner}:{branch}."}],
            )  # fmt: skip
        pull = {
            "number": self._next_number(),
            "head_repo": self.state["repository"],
            "head_ref": branch,
            "head_sha": self._head_sha(branch),
            "base_ref": body["base"],
            "state": "open",
            "title": body["title"],
            "body": text,
            "labels": [],
            "draft": bool(body.get("draft", False)),
            "user": _user(identity, self.state["users"]),
        }
        self.state["pulls"].append(pull)
        return _Reply(201, self._pull_json(pull))

    # --- issues ------------------------------------------------------------------------------------------------

    def _label_json(self, name: str) -> dict[str, Any]:
        label = next((lb for lb in self.state["labels"] if lb["name"] == name), {"name": name})
        return {"color": "ededed", "description": "", **copy.deepcopy(label)}

    def _issue_json(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: copy.deepcopy(v) for k, v in issue.items() if k != "labels"},
            "labels": [self._label_json(name) for name in issue["labels"]],
            "comments": sum(1 for c in self.state["comments"] if c["issue_number"] == issue["number"]),
            "html_url": f"https://github.com/{self.state['repository']}/issues/{issue['number']}",
        }

    def _pull_as_issue(self, pull: dict[str, Any]) -> dict[str, Any]:
        url = f"https://github.com/{self.state['repository']}/pull/{pull['number']}"
        return {
            "number": pull["number"], "title": pull.get("title", ""), "body": pull.get("body", ""),
            "state": pull["state"], "labels": [self._label_json(name) for name in pull.get("labels", [])],
            "user": pull.get("user") or _user("octocat"), "html_url": url, "pull_request": {"html_url": url},
        }  # fmt: skip

    def _list_issues(self, query: dict[str, str], **_: Any) -> _Reply:
        wanted = query.get("state", "open")
        if wanted not in ("open", "closed", "all"):
            raise _HttpError(422, "Validation Failed: state must be open, closed or all")
        labels = [name.strip() for name in query.get("labels", "").split(",") if name.strip()]
        items = [self._issue_json(i) for i in self.state["issues"]] + [
            self._pull_as_issue(p) for p in self.state["pulls"]
        ]
        items = [
            item for item in items
            if wanted in ("all", item["state"]) and set(labels) <= {lb["name"] for lb in item["labels"]}
        ]  # fmt: skip
        items.sort(key=lambda item: -int(item["number"]))
        return self._page(f"/repos/{self.state['repository']}/issues", query, items)

    def _find_issue(self, number: str) -> dict[str, Any]:
        issue = next((i for i in self.state["issues"] if int(i["number"]) == int(number)), None)
        if issue is None:
            raise _HttpError(404, "Not Found")
        return issue

    def _get_issue(self, number: str, **_: Any) -> _Reply:
        pull = next((p for p in self.state["pulls"] if int(p["number"]) == int(number)), None)
        if pull is not None:
            return _Reply(200, self._pull_as_issue(pull))
        return _Reply(200, self._issue_json(self._find_issue(number)))

    def _label_names(self, labels: Any) -> list[str]:
        if not isinstance(labels, list) or not all(isinstance(name, str) and name for name in labels):
            raise _HttpError(422, "Invalid request: 'labels' must be a list of label names")
        for name in labels:
            if not any(lb["name"] == name for lb in self.state["labels"]):
                self.state["labels"].append({"name": name, "color": "ededed", "description": ""})
        return list(dict.fromkeys(labels))

    def _create_issue(self, body: Any, identity: str, **_: Any) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"]:
            raise _HttpError(422, "Invalid request: 'title' must be a non-empty string")
        issue = {
            "number": self._next_number(),
            "title": body["title"],
            "body": self._body_text({"body": body.get("body") or ""}),
            "labels": self._label_names(body.get("labels", [])),
            "state": "open",
            "state_reason": None,
            "user": _user(identity, self.state["users"]),
            "created_at": _now(),
            "closed_at": None,
        }
        self.state["issues"].append(issue)
        return _Reply(201, self._issue_json(issue))

    def _update_issue(self, number: str, body: Any, **_: Any) -> _Reply:
        issue = self._find_issue(number)
        if not isinstance(body, dict):
            raise _HttpError(422, "Invalid request: expected a JSON object")
        if "state" in body and body["state"] not in ("open", "closed"):
            raise _HttpError(422, "Validation Failed: state must be open or closed")
        reasons = {"open": (None, "reopened"), "closed": ("completed", "not_planned")}
        state = body.get("state", issue["state"])
        if body.get("state_reason") not in (None, *reasons[state]):
            raise _HttpError(
                422, f"Validation Failed: state_reason {body['state_reason']!r} does not fit state {state}"
            )
        if "title" in body:
            if not isinstance(body["title"], str) or not body["title"]:
                raise _HttpError(422, "Invalid request: 'title' must be a non-empty string")
            issue["title"] = body["title"]
        if "body" in body:
            issue["body"] = self._body_text({"body": body["body"] or ""})
        if "labels" in body:
            issue["labels"] = self._label_names(body["labels"])
        if "state" in body and body["state"] != issue["state"]:
            issue["state"] = body["state"]
            issue["state_reason"] = body.get("state_reason") or reasons[state][0]
            issue["closed_at"] = _now() if state == "closed" else None
        return _Reply(200, self._issue_json(issue))

    def _get_label(self, name: str, **_: Any) -> _Reply:
        if not any(lb["name"] == name for lb in self.state["labels"]):
            raise _HttpError(404, "Not Found")
        return _Reply(200, self._label_json(name))

    def _create_label(self, body: Any, **_: Any) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise _HttpError(422, "Invalid request: 'name' must be a non-empty string")
        color = str(body.get("color", "ededed"))
        if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
            raise _HttpError(
                422, "Validation Failed", errors=[{"resource": "Label", "field": "color", "code": "invalid"}]
            )
        if any(lb["name"].lower() == body["name"].lower() for lb in self.state["labels"]):
            raise _HttpError(
                422, "Validation Failed", errors=[{"resource": "Label", "code": "already_exists", "field": "name"}]
            )
        self.state["labels"].append(
            {"name": body["name"], "color": color, "description": str(body.get("description", ""))}
        )
        return _Reply(201, self._label_json(body["name"]))

    def _comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            **copy.deepcopy(comment),
            "html_url": f"https://github.com/{self.state['repository']}/issues/{comment['issue_number']}"
            f"#issuecomment-{comment['id']}",
        }

    def _list_comments(self, number: str, query: dict[str, str], **_: Any) -> _Reply:
        issue = self._issue(number)
        comments = sorted((c for c in self.state["comments"] if c["issue_number"] == issue), key=lambda c: c["id"])
        path = f"/repos/{self.state['repository']}/issues/{issue}/comments"
        return self._page(path, query, [self._comment_json(c) for c in comments])

    @staticmethod
    def _body_text(body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise _HttpError(422, "Invalid request: 'body' must be a string")
        if len(body["body"]) > COMMENT_LIMIT:
            raise _HttpError(422, f"Body is too long (maximum is {COMMENT_LIMIT} characters)")
        return body["body"]

    def _create_comment(self, number: str, body: Any, identity: str, **_: Any) -> _Reply:
        issue = self._issue(number)
        text = self._body_text(body)
        now = _now()
        comment = {
            "id": self._next_id(self.state["comments"], 1000),
            "issue_number": issue,
            "body": text,
            "user": _user(identity, self.state["users"]),
            "created_at": now,
            "updated_at": now,
        }
        self.state["comments"].append(comment)
        return _Reply(201, self._comment_json(comment))

    def _update_comment(self, comment_id: str, body: Any, identity: str, **_: Any) -> _Reply:
        comment = next((c for c in self.state["comments"] if int(c["id"]) == int(comment_id)), None)
        if comment is None:
            raise _HttpError(404, "Not Found")
        if comment["user"]["login"] != identity:
            raise _HttpError(403, "Resource not accessible by integration")
        comment["body"] = self._body_text(body)
        comment["updated_at"] = _now()
        return _Reply(200, self._comment_json(comment))

    def _delete_comment(self, comment_id: str, identity: str, **_: Any) -> _Reply:
        comment = next((c for c in self.state["comments"] if int(c["id"]) == int(comment_id)), None)
        if comment is None:
            raise _HttpError(404, "Not Found")
        if comment["user"]["login"] != identity:
            raise _HttpError(403, "Resource not accessible by integration")
        self.state["comments"].remove(comment)
        return _Reply(204, None)

    def _release_json(self, release: dict[str, Any]) -> dict[str, Any]:
        return {
            "draft": False,
            "prerelease": False,
            **copy.deepcopy(release),
            "html_url": f"https://github.com/{self.state['repository']}/releases/tag/{release['tag_name']}",
        }

    def _get_release(self, tag: str, **_: Any) -> _Reply:
        release = next((r for r in self.state["releases"] if r["tag_name"] == tag), None)
        if release is None:
            raise _HttpError(404, "Not Found")
        return _Reply(200, self._release_json(release))

    def _create_release(self, body: Any, identity: str, **_: Any) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("tag_name"), str) or not body["tag_name"]:
            raise _HttpError(422, "Invalid request: 'tag_name' must be a non-empty string")
        if any(r["tag_name"] == body["tag_name"] for r in self.state["releases"]):
            raise _HttpError(
                422,
                "Validation Failed",
                errors=[{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            )
        if len(str(body.get("body", ""))) > 125_000:
            raise _HttpError(422, "Validation Failed: body is too long (maximum is 125000 characters)")
        release = {
            "id": self._next_id(self.state["releases"], 100),
            "tag_name": body["tag_name"],
            "name": body.get("name") or body["tag_name"],
            "body": body.get("body", ""),
            "target_commitish": body.get("target_commitish", "main"),
            "draft": bool(body.get("draft", False)),
            "prerelease": bool(body.get("prerelease", False)),
            "author": _user(identity, self.state["users"]),
            "created_at": _now(),
        }
        self.state["releases"].append(release)
        if body.get("make_latest", "true") == "true" and not release["draft"] and not release["prerelease"]:
            self.state["latest_release"] = release["tag_name"]
        return _Reply(201, self._release_json(release))

    def _update_release(self, release_id: str, body: Any, **_: Any) -> _Reply:
        release = next((r for r in self.state["releases"] if int(r["id"]) == int(release_id)), None)
        if release is None:
            raise _HttpError(404, "Not Found")
        if not isinstance(body, dict) or body.get("make_latest", "true") not in ("true", "false", "legacy"):
            raise _HttpError(422, "Validation Failed: make_latest must be 'true', 'false' or 'legacy'")
        if body.get("make_latest") == "true":
            self.state["latest_release"] = release["tag_name"]
        return _Reply(200, self._release_json(release))


def _token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") and value.strip() else None


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.support.github_stub --port P --state state.json --calls calls.jsonl``: serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--state", type=Path, required=True, help="JSON file with the seed state")
    parser.add_argument("--calls", type=Path, required=True, help="JSONL file to append each recorded call to")
    args = parser.parse_args(argv)
    stub = GitHubStub(json.loads(args.state.read_text(encoding="utf-8")), port=args.port, calls_path=args.calls)
    args.calls.touch()

    def _stop(*_: object) -> None:
        threading.Thread(target=stub._server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"github_stub listening on {stub.url}", flush=True)
    try:
        stub.serve_forever()
    finally:
        stub._server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
