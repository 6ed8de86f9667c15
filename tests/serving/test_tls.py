"""The local TLS certificate: created once, reused while valid, replaced when it would not do."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from gitops_ml.serving.tls import (
    CERT_FILE,
    KEY_FILE,
    RENEW_BEFORE,
    VALID_DAYS,
    CertificateError,
    ensure_certificate,
)


def test_created_for_localhost_with_a_private_key(tmp_path: Path) -> None:
    pair, created = ensure_certificate(tmp_path / "tls")
    assert created
    assert (pair.cert, pair.key) == (tmp_path / "tls" / CERT_FILE, tmp_path / "tls" / KEY_FILE)
    assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > dt.timedelta(days=VALID_DAYS)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # Python's ssl module (strict X.509 checks) loads it as a CA file and as a server's certificate and key.
    client = ssl.create_default_context(cafile=str(pair.cert))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(pair.cert, pair.key)
    assert [path.name for path in pair.cert.parent.iterdir() if path.name.startswith(".")] == []  # no temp files


def test_reused_while_valid(tmp_path: Path) -> None:
    first, _ = ensure_certificate(tmp_path)
    before = (first.cert.read_bytes(), first.key.read_bytes())
    again, created = ensure_certificate(tmp_path)
    assert not created
    assert (again.cert.read_bytes(), again.key.read_bytes()) == before


def test_replaced_when_about_to_expire(tmp_path: Path) -> None:
    pair, _ = ensure_certificate(tmp_path)
    old = pair.cert.read_bytes()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=VALID_DAYS) - RENEW_BEFORE + dt.timedelta(hours=1)
    _, created = ensure_certificate(tmp_path, now=soon)
    assert created
    assert pair.cert.read_bytes() != old


def test_replaced_when_the_key_does_not_match(tmp_path: Path) -> None:
    pair, _ = ensure_certificate(tmp_path / "a")
    other, _ = ensure_certificate(tmp_path / "b")
    shutil.copy(other.key, pair.key)  # as if a run stopped between writing the key and the certificate
    _, created = ensure_certificate(tmp_path / "a")
    assert created
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(pair.cert, pair.key)


@pytest.mark.parametrize("broken", [CERT_FILE, KEY_FILE])
def test_replaced_when_a_file_is_unreadable_as_pem(tmp_path: Path, broken: str) -> None:
    ensure_certificate(tmp_path)
    (tmp_path / broken).write_text("not a PEM file\n")
    _, created = ensure_certificate(tmp_path)
    assert created


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CertificateError, match=r"cannot write the TLS certificate to .*file/tls"):
        ensure_certificate(tmp_path / "file" / "tls")
