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
- ``GET   /repos/{o}/{r}/releases/tags/{tag}`` → 200 or 404
- ``POST  /repos/{o}/{r}/releases`` ``{"tag_name", "name", "body", ...}`` → 201, or 422 when the tag has a release
  (a release made with ``make_latest`` "true", the default, becomes ``state["latest_release"]``)
- ``PATCH /repos/{o}/{r}/releases/{id}`` ``{"make_latest": "true"}`` → 200; the release becomes the latest
- ``POST  /repos/{o}/{r}/pulls`` ``{"title", "head", "base", "body"}`` → 201, or 422 when ``head`` has an open PR
- ``PATCH /repos/{o}/{r}/pulls/{n}`` ``{"title", "body", "state"}`` → 200

A missing or unknown token answers 401 on every endpoint; a repository other than the seeded one, or any other
path, answers 404. Every request is recorded (also the refused ones) as a :class:`Call`. Bodies over GitHub's
65,536-character limit are refused with 422, as GitHub does. ``GET /_stub/state`` (no token, not recorded) returns
the current state, for a rehearsal that runs the stand-in in another process.

Seed state (a dict, or a JSON file with ``--state``)::

    {
      "repository": "octo/template",
      "tokens": {"workflow-token": "github-actions[bot]", "alice-token": "alice"},
      "pulls": [{"number": 7, "head_repo": "alice/template", "head_ref": "tune", "head_sha": "<40 hex>",
                 "base_ref": "main", "state": "open"}],
      "issues": [3],
      "comments": [{"id": 1, "issue_number": 7, "body": "hi", "user": {"login": "alice", "type": "User"}}],
      "releases": [{"id": 1, "tag_name": "model-v1", "name": "model-v1", "body": "..."}]
    }

``issues`` lists issue numbers that are not pull requests (comments may go on both); a user's ``type`` defaults
to ``Bot`` for logins ending in ``[bot]``, else ``User``.

Use it in a test as a context manager (a thread in the test process)::

    with GitHubStub(state) as github:
        env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": "workflow-token"}
        ...
        assert [c.method for c in github.calls if c.method != "GET"] == ["POST"]

or as its own process, for workflow steps that act runs in other processes (calls appended to a JSONL file)::

    python -m tests.support.github_stub --port 8765 --state state.json --calls calls.jsonl

Why the standard library's ``http.server``: six small JSON endpoints with no framework, no extra dependency and
no event loop, so the same class runs in a pytest thread and as a separate process; ``ThreadingHTTPServer``
answers concurrent requests, and one lock guards the state.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import signal
import sys
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

COMMENT_LIMIT = 65_536
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


class _HttpError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.reply = _Reply(status, {"message": message, **extra})


def _user(login: str, users: dict[str, str] | None = None) -> dict[str, Any]:
    kind = (users or {}).get(login) or ("Bot" if login.endswith("[bot]") else "User")
    return {"login": login, "type": kind}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStub:
    """The stand-in server. ``state`` is copied; read the live one through :attr:`state` (under :attr:`lock`)."""

    def __init__(self, state: dict[str, Any], port: int = 0, calls_path: Path | None = None) -> None:
        self.state = self._normalise(copy.deepcopy(state))
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.calls_path = calls_path
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
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

    def comments(self, issue_number: int) -> list[dict[str, Any]]:
        """The comments on ``issue_number`` now, oldest first."""
        with self.lock:
            return [copy.deepcopy(c) for c in self.state["comments"] if c["issue_number"] == issue_number]

    # --- state -----------------------------------------------------------------------------------------------

    @staticmethod
    def _normalise(state: dict[str, Any]) -> dict[str, Any]:
        if not re.fullmatch(r"[^/\s]+/[^/\s]+", str(state.get("repository", ""))):
            raise ValueError("state: 'repository' must be 'owner/name'")
        state.setdefault("tokens", {})
        state.setdefault("users", {})
        state.setdefault("issues", [])
        state.setdefault("releases", [])
        for pull in state.setdefault("pulls", []):
            missing = {"number", "head_repo", "head_ref", "head_sha"} - pull.keys()
            if missing:
                raise ValueError(f"state: pull request {pull} lacks {sorted(missing)}")
            pull.setdefault("base_ref", "main")
            pull.setdefault("state", "open")
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
                self._send(reply)

            def _send(self, reply: _Reply) -> None:
                data = json.dumps(reply.body).encode()
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
            ("PATCH", r"/pulls/(\d+)", self._update_pull),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._update_comment),
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

    def _create_pull(self, body: Any, **_: Any) -> _Reply:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("title", "head", "base")):
            raise _HttpError(422, "Validation Failed: title, head and base are required")
        owner = self.state["repository"].split("/")[0]
        head_repo, branch = self.state["repository"], body["head"]
        if ":" in branch:
            owner_given, branch = branch.split(":", 1)
            head_repo = f"{owner_given}/{self.state['repository'].split('/')[1]}"
        open_same = [p for p in self.state["pulls"] if p["head_ref"] == branch and p.get("state", "open") == "open"]
        if open_same and head_repo.split("/")[0].lower() == owner.lower():
            raise _HttpError(422, f"Validation Failed: A pull request already exists for {owner}:{branch}.")
        number = max([0, *(int(p["number"]) for p in self.state["pulls"]), *(int(n) for n in self.state["issues"])]) + 1
        pull = {
            "number": number, "head_repo": head_repo, "head_ref": branch, "head_sha": body.get("head_sha", ""),
            "base_ref": body["base"], "state": "open", "title": body["title"], "body": body.get("body") or "",
        }  # fmt: skip
        self.state["pulls"].append(pull)
        return _Reply(201, self._pull_json(pull))

    def _update_pull(self, number: str, body: Any, **_: Any) -> _Reply:
        pull = next((p for p in self.state["pulls"] if int(p["number"]) == int(number)), None)
        if pull is None:
            raise _HttpError(404, "Not Found")
        if isinstance(body, dict):
            pull.update({k: body[k] for k in ("title", "body", "state") if k in body})
        return _Reply(200, self._pull_json(pull))

    def _issue(self, number: str) -> int:
        known = {int(p["number"]) for p in self.state["pulls"]} | {int(n) for n in self.state["issues"]}
        if int(number) not in known:
            raise _HttpError(404, "Not Found")
        return int(number)

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
