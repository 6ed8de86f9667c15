"""The service's authentication settings, read once from the environment at start-up.

* ``GITOPS_ML_AUTH``: ``on`` or ``off`` (default ``off``: ``make serve`` on a laptop needs no token; the
  service then warns once at start-up).
* ``GITOPS_ML_TOKENS_FILE``: a tokens file (see :mod:`gitops_ml.serving.tokens`); in Kubernetes the Secret
  ``gitops-ml-tokens`` mounted at ``/etc/gitops-ml/tokens/tokens``.
* ``GITOPS_ML_TOKENS``: the same content in the variable itself (one line per token), for a container started
  by hand. Set one of the two, not both.

Anything wrong (an unknown ``GITOPS_ML_AUTH`` value, no tokens with auth on, an unreadable or malformed tokens
file) raises :class:`AuthConfigError` with one message naming the variable, file and line, so the service
refuses to start rather than serve without the protection it was asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.errors import ProjectError
from gitops_ml.serving.tokens import TokenStore, parse_tokens

AUTH_VAR = "GITOPS_ML_AUTH"
TOKENS_FILE_VAR = "GITOPS_ML_TOKENS_FILE"
TOKENS_VAR = "GITOPS_ML_TOKENS"
AUTH_OFF_WARNING = (
    f"authentication is off: anyone who can reach this port may call /predict and read /metrics; "
    f"set {AUTH_VAR}=on and {TOKENS_FILE_VAR} (docs/auth.md)"
)


class AuthConfigError(ProjectError, ValueError):
    """The authentication settings cannot be used; the service must not start."""


@dataclass(frozen=True)
class AuthSettings:
    """Whether requests need a bearer token, and the tokens accepted (None when auth is off)."""

    enabled: bool
    tokens: TokenStore | None = None
    source: str = ""  # where the tokens came from, for the start-up log line


def load_auth_settings(environ: Mapping[str, str]) -> AuthSettings:
    """Read :data:`AUTH_VAR` and, when it is on, the tokens from :data:`TOKENS_FILE_VAR` or :data:`TOKENS_VAR`.

    Raises :class:`AuthConfigError` (with :class:`~gitops_ml.serving.tokens.TokenFileError`'s message for a
    malformed file). With auth off the tokens are not read at all.
    """
    value = environ.get(AUTH_VAR, "off").strip().lower()
    if value not in {"on", "off"}:
        raise AuthConfigError(f"{AUTH_VAR} must be 'on' or 'off', got {environ[AUTH_VAR]!r}")
    if value == "off":
        return AuthSettings(enabled=False)
    path, inline = environ.get(TOKENS_FILE_VAR, ""), environ.get(TOKENS_VAR, "")
    if path and inline:
        raise AuthConfigError(f"set {TOKENS_FILE_VAR} or {TOKENS_VAR}, not both")
    if path:
        source = f"tokens file {path} ({TOKENS_FILE_VAR})"
        text = _read(Path(path), source)
    elif inline:
        source, text = TOKENS_VAR, inline
    else:
        raise AuthConfigError(
            f"{AUTH_VAR}=on needs tokens: set {TOKENS_FILE_VAR} to a tokens file (or {TOKENS_VAR} to its content); "
            "`make token ROLE=predict` makes a token and prints its line"
        )
    try:
        store = TokenStore(parse_tokens(text, source))
    except ValueError as exc:
        raise AuthConfigError(str(exc)) from None
    if not len(store):
        raise AuthConfigError(f"{AUTH_VAR}=on but {source} holds no tokens; add a line from `make token ROLE=predict`")
    return AuthSettings(enabled=True, tokens=store, source=source)


def _read(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AuthConfigError(f"{source}: not UTF-8 text; expected lines '<role> sha256:<hex>'") from None
    except OSError as exc:
        raise AuthConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
