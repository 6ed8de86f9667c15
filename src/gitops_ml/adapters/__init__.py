"""Fences around the third-party APIs that are not public: one small adapter module per API.

A library may change what it does not document in any release. Each adapter is the only place the project
touches such an API, checks it before use, and turns a change into :class:`~gitops_ml.errors.PrivateApiError`
naming the library, its installed version and the adapter to update, instead of a deep ``AttributeError``.
Each has a test under ``tests/adapters/`` that fails with the same message when the installed version differs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from gitops_ml.errors import PrivateApiError


def installed(distribution: str) -> str:
    """``name version`` of an installed distribution (``name (not installed)`` when it is missing)."""
    try:
        return f"{distribution} {version(distribution)}"
    except PackageNotFoundError:
        return f"{distribution} (not installed)"


def broken(distribution: str, api: str, adapter: str, problem: str) -> PrivateApiError:
    """The error for a private API that changed: what, in which installed version, and what to do."""
    return PrivateApiError(
        f"{installed(distribution)} changed its private API {api} ({problem}), which {adapter} relies on. "
        f"Install the version uv.lock pins (`make install`), or update {adapter} for this version."
    )


def private_attribute(module: str, name: str, distribution: str, adapter: str) -> Any:
    """``module.name`` from a library's private API; :class:`PrivateApiError` naming the version if it is gone."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise broken(distribution, f"{module}.{name}", adapter, f"{type(exc).__name__}: {exc}") from None


def require_parameters(
    function: Callable[..., Any], names: Iterable[str], distribution: str, api: str, adapter: str
) -> None:
    """Check that ``function`` still takes parameters called ``names``; :class:`PrivateApiError` if not."""
    parameters = inspect.signature(function).parameters
    missing = [name for name in names if name not in parameters]
    if missing:
        raise broken(distribution, api, adapter, f"no parameter {', '.join(missing)}; it takes {', '.join(parameters)}")
