"""Bearer-token authentication over real HTTP: the built bento served by ``bentoml serve`` with auth on.

The roles-by-endpoints matrix, malformed ``Authorization`` headers, open probes, the OpenAPI scheme, tokens kept
out of the log, start-up refused with one message for a bad tokens file, and what an outsider without a token
can still do: a flood of random paths grows neither ``/metrics`` nor the workers, and a path cannot forge a log
line.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitops_ml.config import Params
from gitops_ml.serving.schema import example_record
from gitops_ml.serving.tokens import Role, hash_line, new_token
from tests.support.auth_matrix import (
    AuthTokens,
    leaked_tokens,
    make_tokens,
    malformed_header_failures,
    matrix_failures,
    raw_status,
)
from tests.support.serving import BuiltBento, Server, multiprocess_metric_bytes, resident_bytes, serve

pytestmark = pytest.mark.slow

START_FAILURE_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> AuthTokens:
    """One token per role, in a tokens file."""
    return make_tokens(tmp_path_factory.mktemp("tokens"))


@pytest.fixture(scope="module")
def auth_server(
    built_bento: BuiltBento, tokens: AuthTokens, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The bento served with ``GITOPS_ML_AUTH=on`` and the tokens file."""
    env = built_bento.env | {"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": str(tokens.file)}
    with serve(built_bento.tag, env, tmp_path_factory.mktemp("serve-auth")) as running:
        yield running


@pytest.fixture(scope="module")
def predict_body(project_params: Params) -> dict[str, Any]:
    """A valid /predict request."""
    return {"records": [example_record(project_params.schema)]}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_roles_by_endpoints(auth_server: Server, tokens: AuthTokens, predict_body: dict[str, Any]) -> None:
    assert matrix_failures(auth_server.url, tokens, predict_body) == []


def test_malformed_authorization_headers_get_401(
    auth_server: Server, tokens: AuthTokens, predict_body: dict[str, Any]
) -> None:
    assert malformed_header_failures(auth_server.url, tokens, predict_body) == []


def test_a_scheme_in_any_case_is_accepted(
    auth_server: Server, tokens: AuthTokens, predict_body: dict[str, Any]
) -> None:
    token = tokens.by_role[Role.PREDICT]
    for scheme in ("bearer", "BEARER"):
        response = httpx.post(
            f"{auth_server.url}/predict", json=predict_body, headers={"Authorization": f"{scheme} {token}"}, timeout=30
        )
        assert response.status_code == 200, response.text


def test_other_paths_need_admin(auth_server: Server, tokens: AuthTokens) -> None:
    for path in ("/nowhere", "/predict/", "/schema.json"):
        unauthenticated = httpx.get(f"{auth_server.url}{path}", timeout=10)
        assert unauthenticated.status_code == 401, path
    assert (
        httpx.get(f"{auth_server.url}/nowhere", headers=auth(tokens.by_role[Role.PREDICT]), timeout=10).status_code
        == 403
    )
    assert (
        httpx.get(f"{auth_server.url}/nowhere", headers=auth(tokens.by_role[Role.ADMIN]), timeout=10).status_code == 404
    )


def test_unauthenticated_request_learns_nothing_about_its_body(auth_server: Server) -> None:
    response = httpx.post(
        f"{auth_server.url}/predict", content="not json", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 401  # not 415: authentication runs first


def test_openapi_documents_the_bearer_scheme(auth_server: Server, tokens: AuthTokens) -> None:
    spec = httpx.get(f"{auth_server.url}/docs.json", headers=auth(tokens.by_role[Role.PREDICT]), timeout=10).json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "description": "",
    }
    predict = spec["paths"]["/predict"]["post"]
    assert predict["security"] == [{"bearerAuth": []}]
    assert predict["x-required-role"] == "predict"
    assert {"401", "403"} <= set(predict["responses"])
    assert spec["paths"]["/metrics"]["get"]["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/metrics"]["get"]["x-required-role"] == "metrics"
    assert spec["paths"]["/livez"]["get"]["security"] == []
    assert spec["paths"]["/readyz"]["get"]["security"] == []
    assert "requestBody" in predict  # the rest of BentoML's spec is intact


def test_tokens_never_reach_the_log(auth_server: Server, tokens: AuthTokens, predict_body: dict[str, Any]) -> None:
    for caller_token in tokens.all_tokens():
        for path in ("/predict", "/metrics", "/docs.json", "/nowhere"):
            httpx.post(f"{auth_server.url}{path}", json=predict_body, headers=auth(caller_token), timeout=30)
    log = auth_server.log.read_text(encoding="utf-8", errors="replace")
    # the requests were logged (a path the service does not have under one fixed name, middleware.UNROUTED)...
    assert re.search(r"path=/\{unrouted\}.*status=40[13]", log), log[-3000:]
    assert leaked_tokens(log, tokens) == []  # ...without their tokens


WARMUP_REQUESTS = 300
FLOOD_REQUESTS = 3_000
MAX_SCRAPE_GROWTH_BYTES = 20_000  # a few new series at most; a label per path grew it by ~4 kB per request
MAX_RSS_GROWTH_BYTES = 32 * 2**20  # a label per path grew a worker by ~35 kB per request (~100 MB here)
MAX_MULTIPROCESS_GROWTH_BYTES = 2**20


def _endpoint_labels(scrape: str) -> set[str]:
    return set(re.findall(r'endpoint="([^"]*)"', scrape))


def test_a_flood_of_random_paths_grows_neither_the_metrics_nor_the_workers(
    auth_server: Server, tokens: AuthTokens
) -> None:
    """Requests refused before routing count under one fixed label; counts and sizes, never timings."""
    metrics = auth(tokens.by_role[Role.METRICS])
    with httpx.Client(base_url=auth_server.url, timeout=30) as client:

        def flood(count: int) -> set[int]:
            return {client.get(f"/{secrets.token_hex(6)}/{i}").status_code for i in range(count)}

        assert flood(WARMUP_REQUESTS) == {401}  # every kind of series exists once, allocators warmed up
        before = client.get("/metrics", headers=metrics).text
        rss_before, files_before = resident_bytes(auth_server), multiprocess_metric_bytes(auth_server)
        assert flood(FLOOD_REQUESTS) == {401}
        after = client.get("/metrics", headers=metrics).text
        rss_after, files_after = resident_bytes(auth_server), multiprocess_metric_bytes(auth_server)
    assert _endpoint_labels(after) == _endpoint_labels(before)
    assert len(_endpoint_labels(after)) < 20, sorted(_endpoint_labels(after))[:30]
    assert len(after) - len(before) < MAX_SCRAPE_GROWTH_BYTES, (len(before), len(after))
    assert rss_after - rss_before < MAX_RSS_GROWTH_BYTES, (rss_before, rss_after)
    assert files_after - files_before < MAX_MULTIPROCESS_GROWTH_BYTES, (files_before, files_after)


FORGED = "FORGED-LINE 2026-01-01T00:00:00+0000 [INFO] [entry_service:gitops-ml-service:1] admin logged in"


def test_a_path_cannot_forge_a_log_line(auth_server: Server, tokens: AuthTokens) -> None:
    """A %0a (or a raw control byte) in the path is never written raw into the access log: no fake line, no NUL."""
    forged = FORGED.replace(" ", "%20")
    for path in (f"/x%0a{forged}", f"/x%0d%0a{forged}", f"/predict%0a{forged}", "/x%00y%1b%5B31mred"):
        for headers in ([], [b"Authorization: Bearer " + tokens.by_role[Role.ADMIN].encode()]):
            assert raw_status(auth_server.url, "GET", path, headers) in {401, 404}, path
    log = auth_server.log.read_bytes()
    lines = log.decode("utf-8", errors="replace").splitlines()
    assert not [line for line in lines if line.startswith("FORGED-LINE")], log[-3000:]
    assert b"\x00" not in log, log[-3000:]  # no raw NUL byte
    assert b"\x1b[31m" not in log, log[-3000:]  # no raw escape sequence


def test_no_warning_when_auth_is_on(auth_server: Server) -> None:
    log = auth_server.log.read_text(encoding="utf-8", errors="replace")
    assert "authentication is off" not in log


def start_failure(built_bento: BuiltBento, env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess:
    """``bentoml serve`` with ``env`` added, expected to exit on its own."""
    return subprocess.run(
        ["bentoml", "serve", built_bento.tag, "--host", "127.0.0.1", "--port", "1"],
        cwd=workdir,
        env=built_bento.env | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=START_FAILURE_TIMEOUT_S,
    )


def _bad_files(tmp: Path, pasted_token: str) -> dict[str, tuple[dict[str, str], str]]:
    good = hash_line(new_token(), Role.PREDICT)
    files = {
        "bad-role": f"{good}\nroot sha256:{'0' * 64}\n",
        "pasted-token": f"# the token itself instead of its hash\n\n{good}\npredict {pasted_token}\n",
        "comments-only": "# nothing yet\n",
    }
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    on = {"GITOPS_ML_AUTH": "on"}

    def at(name: str) -> str:
        return re.escape(str(tmp / name))

    return {
        "unknown role": (
            on | {"GITOPS_ML_TOKENS_FILE": str(tmp / "bad-role")},
            f"{at('bad-role')} .* line 2: unknown role",
        ),
        "token instead of hash": (
            on | {"GITOPS_ML_TOKENS_FILE": str(tmp / "pasted-token")},
            f"{at('pasted-token')} .* line 4: the second field is not 'sha256:'",
        ),
        "no tokens in the file": (on | {"GITOPS_ML_TOKENS_FILE": str(tmp / "comments-only")}, "holds no tokens"),
        "missing file": (
            on | {"GITOPS_ML_TOKENS_FILE": str(tmp / "absent")},
            f"cannot read tokens file {at('absent')} .*: No such file",
        ),
        "a directory": (
            on | {"GITOPS_ML_TOKENS_FILE": str(tmp)},
            f"cannot read tokens file {re.escape(str(tmp))} .*: Is a directory",
        ),
        "auth on without tokens": (on, "GITOPS_ML_AUTH=on needs tokens"),
        "unknown switch value": ({"GITOPS_ML_AUTH": "yes"}, "GITOPS_ML_AUTH must be 'on' or 'off'"),
        "malformed inline tokens": (on | {"GITOPS_ML_TOKENS": "predict"}, "GITOPS_ML_TOKENS line 1: expected"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown role",
        "token instead of hash",
        "no tokens in the file",
        "missing file",
        "a directory",
        "auth on without tokens",
        "unknown switch value",
        "malformed inline tokens",
    ],
)
def test_a_bad_token_configuration_stops_start_up_with_one_message(
    built_bento: BuiltBento, tmp_path: Path, case: str
) -> None:
    pasted = new_token()
    env, pattern = _bad_files(tmp_path, pasted)[case]
    result = start_failure(built_bento, env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output[-3000:]  # one message, no traceback
    assert lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert pasted not in output
