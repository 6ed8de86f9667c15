"""``make serve TLS=1`` for real: HTTPS with the certificate it creates, verified by the client against it.

The built bento is served through the Makefile target in the service project (``-o bento``: the bento is
already built; ``RUN=``: commands come from this virtualenv). Authentication is left at its default (off), so
the start-up warning is checked here too.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitops_ml.config import Params
from gitops_ml.serving.schema import example_record
from gitops_ml.serving.tls import ensure_certificate
from tests.support.processes import free_port, stop
from tests.support.projects import run
from tests.support.serving import READY_TIMEOUT_S, BuiltBento

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class TlsServer:
    """``make serve TLS=1`` running: its port, the certificate it made, its output."""

    port: int
    cert: Path
    process: subprocess.Popen
    log: Path

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def tls_server(built_bento: BuiltBento, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """``make serve TLS=1`` in the service project, ready on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve-tls") / "make-serve.log"
    cert = built_bento.project / "build" / "tls" / "localhost.crt"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            ["make", "-o", "bento", "serve", "TLS=1", f"PORT={port}", "RUN="],
            cwd=built_bento.project,
            env={k: v for k, v in built_bento.env.items() if not k.startswith("GITOPS_ML_")},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = TlsServer(port=port, cert=cert, process=process, log=log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"make serve TLS=1 exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            if cert.exists():
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{server.https}/readyz", verify=str(cert), timeout=2).status_code == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"make serve TLS=1 not ready after {READY_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield server
    finally:
        stop(process)


@pytest.fixture(scope="module")
def predict_body(project_params: Params) -> dict[str, Any]:
    return {"records": [example_record(project_params.schema)]}


def test_https_request_verified_against_the_generated_certificate(
    tls_server: TlsServer, predict_body: dict[str, Any]
) -> None:
    for host in ("127.0.0.1", "localhost"):
        response = httpx.post(
            f"https://{host}:{tls_server.port}/predict", json=predict_body, verify=str(tls_server.cert), timeout=30
        )
        assert response.status_code == 200, response.text
        assert response.json()["predictions"]
        assert response.url.scheme == "https"


def test_a_client_trusting_another_certificate_refuses_the_server(tls_server: TlsServer, tmp_path: Path) -> None:
    other, _ = ensure_certificate(tmp_path)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_server.https}/readyz", verify=str(other.cert), timeout=10)


def test_plain_http_to_the_tls_port_fails_cleanly(tls_server: TlsServer) -> None:
    with pytest.raises(httpx.TransportError) as raised:
        httpx.get(f"http://127.0.0.1:{tls_server.port}/readyz", timeout=30)
    assert not isinstance(raised.value, httpx.TimeoutException)  # refused, not left hanging
    assert tls_server.process.poll() is None
    assert httpx.get(f"{tls_server.https}/readyz", verify=str(tls_server.cert), timeout=10).status_code == 200


def test_the_certificate_stays_out_of_git(tls_server: TlsServer, built_bento: BuiltBento) -> None:
    assert (tls_server.cert.parent / "localhost.key").exists()
    status = run(["git", "status", "--porcelain", "--ignored", "build"], built_bento.project).stdout
    assert "!! build/" in status
    assert "??" not in status


def test_auth_off_is_one_warning_line_at_start_up(tls_server: TlsServer) -> None:
    log = tls_server.log.read_text(encoding="utf-8", errors="replace")
    warnings = [line for line in log.splitlines() if "authentication is off" in line]
    assert len(warnings) == 1, log[-3000:]
    assert "GITOPS_ML_AUTH=on" in warnings[0]
    assert f"serving on https://127.0.0.1:{tls_server.port} (auth off)" in log
