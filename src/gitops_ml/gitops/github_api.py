"""A small client for the few GitHub REST calls the workflows make: pull requests, issues, comments, releases.

Written here rather than taken from a GitHub SDK because the project needs a dozen calls, and a thin layer over
httpx (already installed) keeps every request visible: base URL from ``GITHUB_API_URL`` (so tests and rehearsals
point it at a local stand-in), token from ``GITHUB_TOKEN``, ``Link: rel="next"`` pagination, timeouts, and
every failure turned into a :class:`GitHubError` that names the call and the status GitHub answered.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from gitops_ml.errors import GitHubError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 1_000  # 100,000 items: far past any real PR, a stop for a server that never ends its pagination
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class PullRequest:
    """The parts of a pull request the comment needs."""

    number: int
    head_repo: str
    head_ref: str
    head_sha: str
    base_ref: str
    state: str
    html_url: str = ""


@dataclass(frozen=True)
class Issue:
    """An issue (not a pull request): what the drift issue needs."""

    number: int
    title: str
    body: str
    state: str
    labels: tuple[str, ...]
    user_login: str
    html_url: str


@dataclass(frozen=True)
class Comment:
    """An issue (or pull-request conversation) comment."""

    id: int
    body: str
    user_login: str
    html_url: str


@dataclass(frozen=True)
class Release:
    """A GitHub Release."""

    id: int
    tag_name: str
    html_url: str


def check_repository(value: str | None, name: str) -> str:
    """``value`` if it is ``owner/name``; otherwise a :class:`GitHubError` naming the variable ``name``."""
    if not value or not _REPOSITORY.fullmatch(value) or value.split("/")[1] in (".", ".."):
        raise GitHubError(f"{name}: {value!r} is not a repository full name of the form owner/name")
    return value


class GitHub:
    """Calls against one repository. Use :meth:`from_env` in commands; close it (or use ``with``) when done."""

    def __init__(self, repository: str, token: str, api_url: str = DEFAULT_API_URL, transport: Any = None) -> None:
        self.repository = check_repository(repository, "GITHUB_REPOSITORY")
        if not token:
            raise GitHubError("GITHUB_TOKEN is not set: the workflow passes `github.token` to this step in env")
        self.api_url = api_url.rstrip("/")
        if urlsplit(self.api_url).scheme not in ("http", "https"):
            raise GitHubError(f"GITHUB_API_URL: {api_url!r} is not an http(s) URL")
        self._client = httpx.Client(
            base_url=self.api_url,
            timeout=TIMEOUT,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "gitops-ml",
            },
            transport=transport or httpx.HTTPTransport(retries=2),  # retries refused connections, not requests
            follow_redirects=False,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, repository: str | None = None) -> GitHub:
        """Client from ``GITHUB_REPOSITORY`` (or ``repository``), ``GITHUB_TOKEN`` and ``GITHUB_API_URL``."""
        env = os.environ if env is None else env
        return cls(
            repository or env.get("GITHUB_REPOSITORY", ""),
            env.get("GITHUB_TOKEN", ""),
            env.get("GITHUB_API_URL") or DEFAULT_API_URL,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -------------------------------------------------------------------------------------------

    def _request(self, what: str, method: str, url: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(f"{what}: {method} {url} failed: {exc} (GITHUB_API_URL is {self.api_url})") from None
        if response.status_code not in ok:
            raise GitHubError(f"{what}: GitHub answered {response.status_code} to {method} {url}{_hint(response)}")
        return response

    def _paginate(self, what: str, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url = path
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            response = self._request(what, "GET", url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"{what}: expected a JSON list from GET {url}, got {type(items).__name__}")
            yield from items
            next_url: str | None = response.links.get("next", {}).get("url")
            if not next_url:
                return
            if not next_url.startswith(self.api_url + "/"):  # never send the token to another host
                raise GitHubError(f"{what}: the next page is on another host ({next_url}); refusing to follow it")
            url = next_url
            query = None  # the next link carries the query
        raise GitHubError(f"{what}: more than {MAX_PAGES} pages from GET {path}; stopping")

    def _repo_path(self, suffix: str) -> str:
        return f"/repos/{self.repository}{suffix}"

    # --- pull requests and comments ---------------------------------------------------------------------------

    def open_pulls_from(self, head_repository: str, head_branch: str) -> list[PullRequest]:
        """Open pull requests into this repository whose head is ``head_branch`` of ``head_repository``."""
        check_repository(head_repository, "HEAD_REPOSITORY")
        owner = head_repository.split("/")[0]
        found = []
        what = f"list open pull requests from {head_repository}:{head_branch}"
        for item in self._paginate(
            what, self._repo_path("/pulls"), {"state": "open", "head": f"{owner}:{head_branch}"}
        ):
            pull = _pull(item)
            if pull.head_repo.lower() == head_repository.lower() and pull.head_ref == head_branch:
                found.append(pull)
        return found

    def issue_comments(self, number: int) -> list[Comment]:
        """Every comment of issue or pull request ``number``, oldest first, all pages."""
        path = self._repo_path(f"/issues/{int(number)}/comments")
        return [_comment(c) for c in self._paginate(f"list the comments of #{number}", path, {})]

    def create_comment(self, number: int, body: str) -> Comment:
        """Post a new comment on issue or pull request ``number``."""
        path = self._repo_path(f"/issues/{int(number)}/comments")
        response = self._request(f"comment on #{number}", "POST", path, ok=(201,), json={"body": body})
        return _comment(response.json())

    def update_comment(self, comment_id: int, body: str) -> Comment:
        """Replace the body of comment ``comment_id``."""
        path = self._repo_path(f"/issues/comments/{int(comment_id)}")
        response = self._request(f"update comment {comment_id}", "PATCH", path, json={"body": body})
        return _comment(response.json())

    def delete_comment(self, comment_id: int) -> bool:
        """Delete comment ``comment_id``; False when it was already gone (another run deleted it)."""
        path = self._repo_path(f"/issues/comments/{int(comment_id)}")
        return self._request(f"delete comment {comment_id}", "DELETE", path, ok=(204, 404)).status_code == 204

    def create_pull(self, title: str, head: str, base: str, body: str) -> PullRequest:
        """Open a pull request from branch ``head`` of this repository into ``base``."""
        payload = {"title": title, "head": head, "base": base, "body": body}
        response = self._request(
            f"open a pull request from {head}", "POST", self._repo_path("/pulls"), ok=(201,), json=payload
        )
        return _pull(response.json())

    def update_pull(self, number: int, title: str, body: str) -> PullRequest:
        """Replace the title and body of pull request ``number``."""
        path = self._repo_path(f"/pulls/{int(number)}")
        response = self._request(f"update pull request #{number}", "PATCH", path, json={"title": title, "body": body})
        return _pull(response.json())

    # --- issues and labels -----------------------------------------------------------------------------------------

    def issues_with_label(self, label: str, state: str = "open") -> list[Issue]:
        """Issues (never pull requests) carrying ``label``, in ``state`` (open, closed, all), oldest first."""
        what = f"list {state} issues labelled {label}"
        items = self._paginate(what, self._repo_path("/issues"), {"state": state, "labels": label})
        found = [_issue(item) for item in items if "pull_request" not in item]  # the endpoint lists PRs too
        return sorted(found, key=lambda issue: issue.number)

    def create_issue(self, title: str, body: str, labels: tuple[str, ...] = ()) -> Issue:
        """Open an issue with ``labels``."""
        payload = {"title": title, "body": body, "labels": list(labels)}
        response = self._request("open an issue", "POST", self._repo_path("/issues"), ok=(201,), json=payload)
        return _issue(response.json())

    def close_issue(self, number: int, reason: str = "completed") -> Issue:
        """Close issue ``number`` with ``reason`` (``completed`` or ``not_planned``)."""
        path = self._repo_path(f"/issues/{int(number)}")
        response = self._request(
            f"close issue #{number}", "PATCH", path, json={"state": "closed", "state_reason": reason}
        )
        return _issue(response.json())

    def ensure_label(self, name: str, color: str, description: str) -> bool:
        """Create label ``name`` unless it exists; True when this call created it."""
        path = self._repo_path(f"/labels/{quote(name, safe='')}")
        if self._request(f"look up the label {name}", "GET", path, ok=(200, 404)).status_code == 200:
            return False
        payload = {"name": name, "color": color, "description": description}
        created = self._request(
            f"create the label {name}", "POST", self._repo_path("/labels"), ok=(201, 422), json=payload
        )
        return created.status_code == 201  # 422: created meanwhile by another run

    # --- releases ------------------------------------------------------------------------------------------------

    def release_by_tag(self, tag: str) -> Release | None:
        """The release of ``tag``, or None when there is none."""
        path = self._repo_path(f"/releases/tags/{quote(tag, safe='')}")
        response = self._request(f"look up the release of {tag}", "GET", path, ok=(200, 404))
        return None if response.status_code == 404 else _release(response.json())

    def create_release(
        self, tag: str, name: str, body: str, target_commitish: str | None = None, make_latest: bool = True
    ) -> Release:
        """Publish a release of the existing tag ``tag`` (``target_commitish`` only matters if the tag is missing);
        ``make_latest=False`` leaves the repository's latest release where it is."""
        payload: dict[str, Any] = {
            "tag_name": tag, "name": name, "body": body, "draft": False, "prerelease": False,
            "make_latest": "true" if make_latest else "false",
        }  # fmt: skip
        if target_commitish:
            payload["target_commitish"] = target_commitish
        response = self._request(
            f"create the release {tag}", "POST", self._repo_path("/releases"), ok=(201,), json=payload
        )
        return _release(response.json())

    def mark_latest(self, release_id: int) -> Release:
        """Mark release ``release_id`` as the repository's latest release."""
        path = self._repo_path(f"/releases/{int(release_id)}")
        response = self._request(f"mark release {release_id} latest", "PATCH", path, json={"make_latest": "true"})
        return _release(response.json())


def _hint(response: httpx.Response) -> str:
    try:
        message = str(response.json().get("message", ""))[:300]
    except (ValueError, AttributeError):
        message = response.text[:300]
    hint = {
        401: "; check that GITHUB_TOKEN is the workflow's token and is passed to this step",
        403: "; the token lacks a permission: grant it in the job's `permissions:`",
        404: "; the repository, pull request, issue or comment does not exist or the token cannot see it",
    }.get(response.status_code, "")
    return f" ({message}){hint}" if message else hint


def _field(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise GitHubError(f"unexpected answer from GitHub: no {'.'.join(keys)} in {str(data)[:200]}")
        data = data[key]
    return data


def _pull(data: Any) -> PullRequest:
    return PullRequest(
        number=int(_field(data, "number")),
        head_repo=str((_field(data, "head").get("repo") or {}).get("full_name", "")),  # None: the fork was deleted
        head_ref=str(_field(data, "head", "ref")),
        head_sha=str(_field(data, "head", "sha")),
        base_ref=str(_field(data, "base", "ref")),
        state=str(_field(data, "state")),
        html_url=str(data.get("html_url", "")),
    )


def _issue(data: Any) -> Issue:
    user = data.get("user") if isinstance(data, dict) else None
    labels = _field(data, "labels")
    return Issue(
        number=int(_field(data, "number")),
        title=str(_field(data, "title")),
        body=str(data.get("body") or ""),  # null when the issue was opened without one
        state=str(_field(data, "state")),
        labels=tuple(str(label.get("name", "")) if isinstance(label, dict) else str(label) for label in labels),
        user_login=str((user or {}).get("login", "")),
        html_url=str(data.get("html_url", "")),
    )


def _comment(data: Any) -> Comment:
    user = data.get("user") if isinstance(data, dict) else None
    return Comment(
        id=int(_field(data, "id")),
        body=str(_field(data, "body") or ""),
        user_login=str((user or {}).get("login", "")),  # None for a deleted ("ghost") account
        html_url=str(data.get("html_url", "")),
    )


def _release(data: Any) -> Release:
    return Release(
        id=int(_field(data, "id")), tag_name=str(_field(data, "tag_name")), html_url=str(data.get("html_url", ""))
    )
