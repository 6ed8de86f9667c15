"""A self-signed certificate for serving HTTPS on this machine (``make serve TLS=1``).

:func:`ensure_certificate` creates, once, an ECDSA P-256 key and a certificate for ``localhost``, ``127.0.0.1``
and ``::1`` in a git-ignored folder (``build/tls/`` by default), valid for :data:`VALID_DAYS` days. Later calls
reuse the pair while it is valid for at least :data:`RENEW_BEFORE` more, names those hosts and the key matches
the certificate; otherwise they create a new one. The key is written with mode 0600; each file is written to a
temporary name and renamed, and a pair whose key no longer matches (a run stopped between the two renames) is
replaced, so a half-written pair is never used.

A client trusts it by using the certificate itself as its CA file (``curl --cacert build/tls/localhost.crt``,
``httpx.get(..., verify=...)``). It is for local use only: in a cluster TLS ends at the Ingress (docs/auth.md).
Built with the ``cryptography`` package, which the project already installs (MLflow depends on it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.errors import ProjectError

CERT_FILE = "localhost.crt"
KEY_FILE = "localhost.key"
DEFAULT_DIR = Path("build/tls")
VALID_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=7)
DNS_NAMES = ("localhost",)
IP_ADDRESSES = ("127.0.0.1", "::1")


class CertificateError(ProjectError, OSError):
    """The certificate or its key cannot be written."""


@dataclass(frozen=True)
class CertificatePair:
    """Paths of a certificate and its private key (PEM)."""

    cert: Path
    key: Path


def ensure_certificate(directory: Path = DEFAULT_DIR, now: dt.datetime | None = None) -> tuple[CertificatePair, bool]:
    """The certificate pair in ``directory``, created if missing, expiring, for other hosts or mismatched.

    Returns the pair and whether it was created by this call. ``now`` (UTC) is for tests.
    """
    now = now or dt.datetime.now(dt.UTC)
    pair = CertificatePair(cert=directory / CERT_FILE, key=directory / KEY_FILE)
    if _usable(pair, now):
        return pair, False
    cert_pem, key_pem = _new_certificate(now)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(pair.key, key_pem, mode=0o600)
        _write_atomically(pair.cert, cert_pem, mode=0o644)
    except OSError as exc:
        raise CertificateError(f"cannot write the TLS certificate to {directory}: {exc.strerror or exc}") from None
    return pair, True


def _usable(pair: CertificatePair, now: dt.datetime) -> bool:
    """True when the pair exists, parses, is valid from now for RENEW_BEFORE, names our hosts and matches."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    hosts = {str(name) for name in names.get_values_for_type(x509.DNSName)}
    hosts |= {str(address) for address in names.get_values_for_type(x509.IPAddress)}
    return (
        cert.not_valid_before_utc <= now
        and now + RENEW_BEFORE < cert.not_valid_after_utc
        and hosts >= {*DNS_NAMES, *IP_ADDRESSES}
        and cert.public_key() == key.public_key()
    )


def _new_certificate(now: dt.datetime) -> tuple[bytes, bytes]:
    """A new key and a self-signed server certificate for DNS_NAMES and IP_ADDRESSES, as PEM bytes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DNS_NAMES[0]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gitops-ml local TLS (make serve TLS=1)"),
        ]
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(host) for host in DNS_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in IP_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate a client clock a little behind
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file next to ``path`` with ``mode``, then rename it over ``path``."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
