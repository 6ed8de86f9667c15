"""Bearer tokens of the service: create one, hash it, read the tokens file, find a presented token's role.

A tokens file holds one token per line as ``<role> sha256:<64 hex digits>``, the role one of ``predict``,
``metrics`` or ``admin``; blank lines and ``#`` comments (whole lines or after the hash) are ignored::

    # CI smoke test, created 2026-11-20
    predict sha256:5f1c...e2

Only the SHA-256 digest of a token is ever stored. A plain SHA-256 (no salt, no slow key-derivation function)
is enough here, and deliberately so: the tokens are 256 random bits made by :func:`new_token`, so nobody can
guess one from its digest by trying candidates (slow hashes such as bcrypt or argon2 exist to protect short,
human-chosen passwords from exactly that search), and a fast hash keeps checking a token off the latency of
every request. Digests are compared with :func:`hmac.compare_digest` against every stored entry, so the time a
check takes does not depend on which entry, or how much of it, a presented token matched.

Hand-written rather than taken from a library: OSS BentoML has no API-key authentication (its hook is ASGI
middleware) and Starlette's ``AuthenticationMiddleware`` would still need all of this (the file format, the
hashing, the constant-time lookup); what is left is a few lines over :mod:`hashlib`, :mod:`hmac` and
:mod:`secrets`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from gitops_ml.errors import ProjectError

TOKEN_PREFIX = "gml_"  # noqa: S105 (a prefix, not a secret): makes a leaked token recognisable to secret scanners and to people
TOKEN_BYTES = 32  # 256 random bits
DIGEST_PREFIX = "sha256:"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class Role(StrEnum):
    """What a token may do: ``predict`` calls /predict (and reads its docs), ``metrics`` reads /metrics,
    ``admin`` may do everything."""

    PREDICT = "predict"
    METRICS = "metrics"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """True when a token of this role may use an endpoint that needs ``needed``."""
        return self is Role.ADMIN or self is needed


ROLE_NAMES = ", ".join(role.value for role in Role)


class TokenFileError(ProjectError, ValueError):
    """A tokens file (or ``GITOPS_ML_TOKENS``) cannot be used; the message names the source and the line."""


@dataclass(frozen=True)
class TokenEntry:
    """One line of a tokens file: the SHA-256 digest of a token and its role."""

    role: Role
    digest: bytes  # the 32 raw bytes of the SHA-256 digest


def new_token() -> str:
    """A new random bearer token: ``gml_`` and 43 URL-safe characters (256 bits from :mod:`secrets`)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    """The SHA-256 digest of ``token`` (its UTF-8 bytes)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def hash_line(token: str, role: Role) -> str:
    """The tokens-file line that grants ``token`` the ``role``: ``<role> sha256:<hex digest>``."""
    return f"{role.value} {DIGEST_PREFIX}{token_digest(token).hex()}"


def parse_tokens(text: str, source: str) -> tuple[TokenEntry, ...]:
    """The entries of a tokens file's ``text``; ``source`` names the file (or variable) in error messages.

    Raises :class:`TokenFileError` naming the source and line for a line that is not ``<role> sha256:<hex>``,
    an unknown role, or a token listed twice. Messages never repeat a line's content: a line may hold a token
    pasted by mistake instead of its hash, and the message ends up in logs.
    """
    entries: list[TokenEntry] = []
    first_line: dict[bytes, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{source} line {number}"
        if len(fields) != 2:
            raise TokenFileError(
                f"{where}: expected '<role> sha256:<64 hex digits>' (2 fields), found {len(fields)}; "
                "`make token ROLE=predict` prints a valid line"
            )
        role_name, digest_text = fields
        if role_name not in Role._value2member_map_:
            raise TokenFileError(f"{where}: unknown role (the first field); roles are {ROLE_NAMES}")
        digest_text = digest_text.lower()
        if not _DIGEST.fullmatch(digest_text):
            raise TokenFileError(
                f"{where}: the second field is not 'sha256:' and 64 hex digits; put the token's hash line there "
                "(from `make token`), never the token itself"
            )
        digest = bytes.fromhex(digest_text.removeprefix(DIGEST_PREFIX))
        if digest in first_line:
            raise TokenFileError(
                f"{where}: the same token as line {first_line[digest]}; list each token once "
                "(a token that needs several roles gets role admin)"
            )
        first_line[digest] = number
        entries.append(TokenEntry(role=Role(role_name), digest=digest))
    return tuple(entries)


class TokenStore:
    """The tokens the service accepts, each with its role."""

    def __init__(self, entries: tuple[TokenEntry, ...]) -> None:
        """Keep ``entries`` (digests only: the store never sees a stored token itself)."""
        self.entries = entries

    def __len__(self) -> int:
        """How many tokens are accepted."""
        return len(self.entries)

    def role_of(self, token: str) -> Role | None:
        """The role of ``token``, or None for an unknown one.

        Every entry is compared, in constant time each, and the loop never stops early, so the answer takes
        the same time whichever entry matched.
        """
        presented = token_digest(token)
        found: Role | None = None
        for entry in self.entries:
            if hmac.compare_digest(presented, entry.digest):
                found = entry.role
        return found
