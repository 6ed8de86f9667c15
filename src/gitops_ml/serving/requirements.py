"""The bento's Python packages: what ``uv.lock`` installs for the image's Python, pinned.

``bentofile.yaml`` pins the service's own packages (checked against the lock by tests/serving/test_bento.py); the
packages a model's estimator needs (``packages`` in ``pipeline/estimators.py``, e.g. ``lightgbm``) are added when
the bento is built, by :func:`estimator_pins`, with every package they pull in, pinned to the lock's versions.

``uv.lock`` is a universal lock: one package may have several entries split by marker (numpy 2.4.x for
Python < 3.12, 2.5.x for >= 3.12). The bento's image runs the Python of ``docker.python_version``, so its pins
must be the entries that Python would get. :func:`locked_for_image` answers that the way an installer reads the
lock: it walks the project's runtime dependencies (no dev group) from the root package, drops every edge whose
marker is false for the image, follows an edge's explicit ``version`` where the lock gives one and otherwise
keeps the entries whose ``resolution-markers`` hold. Markers are evaluated by ``packaging.markers.Marker``
(no hand-written marker parser); the graph walk is ours because no library exposes uv's lock reader.
"""

from __future__ import annotations

import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.markers import Marker, default_environment
from packaging.utils import canonicalize_name

from gitops_ml.errors import BentoBuildError

LOCK_FILE = Path("uv.lock")


def image_environment(python_version: str) -> dict[str, str]:
    """Marker environment of a Linux CPython image running ``python_version`` (``"3.11"`` or ``"3.11.9"``)."""
    parts = str(python_version).split(".")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise BentoBuildError(f"docker.python_version {python_version!r} is not X.Y or X.Y.Z")
    full = ".".join([*parts, "0"][:3])  # "3.11" -> "3.11.0": any 3.11.z satisfies the lock's < / >= 3.12 splits
    return {key: str(value) for key, value in default_environment().items()} | {
        "python_version": ".".join(parts[:2]),
        "python_full_version": full,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }


def read_lock(path: Path) -> dict[str, Any]:
    """The parsed ``uv.lock`` at ``path``; a missing or unreadable file raises
    :class:`BentoBuildError` saying so."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BentoBuildError(f"{path}: missing; the bento's packages are pinned from it (run `uv lock`)") from None
    except tomllib.TOMLDecodeError as exc:
        raise BentoBuildError(f"{path}: not a readable uv.lock ({exc})") from None


def _holds(marker: str | None, environment: Mapping[str, str]) -> bool:
    return marker is None or Marker(marker).evaluate(dict(environment))


def _entry(lock: Mapping[str, Any], name: str, version: str | None, environment: Mapping[str, str]) -> dict[str, Any]:
    """The lock entry an edge to ``name`` (optionally pinned to ``version``) resolves to for ``environment``."""
    entries = [p for p in lock["package"] if p["name"] == name]
    if version is not None:
        entries = [p for p in entries if p["version"] == version]
    if len(entries) > 1:
        entries = [p for p in entries if any(_holds(m, environment) for m in p.get("resolution-markers", [None]))]
    if len(entries) != 1:
        found = [p["version"] for p in entries]
        raise BentoBuildError(f"uv.lock: {len(entries)} entries of {name} {version or ''} apply to the image: {found}")
    entry: dict[str, Any] = entries[0]
    return entry


def _root(lock: Mapping[str, Any]) -> dict[str, Any]:
    roots = [p for p in lock["package"] if "editable" in p["source"] or "virtual" in p["source"]]
    if len(roots) != 1:
        raise BentoBuildError(f"uv.lock: expected one root (editable) package, found {[p['name'] for p in roots]}")
    root: dict[str, Any] = roots[0]
    return root


def _walk(lock: Mapping[str, Any], start: Iterable[dict[str, Any]], environment: Mapping[str, str]) -> dict[str, str]:
    """``{package: version}`` of ``start`` and everything their runtime dependencies pull in for ``environment``."""
    versions: dict[str, str] = {}
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    queue: deque[tuple[dict[str, Any], tuple[str, ...]]] = deque((entry, ()) for entry in start)
    while queue:
        package, extras = queue.popleft()
        key = (package["name"], package["version"], extras)
        if key in seen:
            continue
        seen.add(key)
        versions[package["name"]] = package["version"]
        edges = list(package.get("dependencies", []))
        for extra in extras:
            edges += package.get("optional-dependencies", {}).get(extra, [])
        for edge in edges:
            if _holds(edge.get("marker"), environment):
                target = _entry(lock, edge["name"], edge.get("version"), environment)
                queue.append((target, tuple(sorted(edge.get("extra", [])))))
    return versions


def locked_for_image(lock: Mapping[str, Any], environment: Mapping[str, str]) -> dict[str, str]:
    """``{package: version}`` that installing the root project's runtime dependencies from ``lock`` gives."""
    root = _root(lock)
    versions = _walk(lock, [root], environment)
    del versions[root["name"]]
    return versions


def estimator_pins(
    lock: Mapping[str, Any], python_version: str, packages: Iterable[str], pinned: Iterable[str] = ()
) -> list[str]:
    """``name==version`` for each of ``packages`` and what they depend on, as the image's Python gets them from
    ``lock``, leaving out the names in ``pinned`` (the bentofile's own). A package the project does not install
    (not a runtime dependency in ``pyproject.toml``) raises :class:`BentoBuildError` saying how to
    add it."""
    environment = image_environment(python_version)
    installed = locked_for_image(lock, environment)
    wanted = [canonicalize_name(name) for name in packages]
    missing = [name for name in wanted if name not in installed]
    if missing:
        raise BentoBuildError(
            f"the model's estimator needs {', '.join(missing)}, which uv.lock does not install with the project on "
            f"Python {python_version}: add it with `uv add {' '.join(missing)}`"
        )
    closure = _walk(lock, [_entry(lock, name, installed[name], environment) for name in wanted], environment)
    skip = {canonicalize_name(line.partition("==")[0].strip()) for line in pinned}
    return [f"{name}=={version}" for name, version in sorted(closure.items()) if name not in skip]


def pin_drift(bentofile: Mapping[str, Any], lock: Mapping[str, Any]) -> dict[str, str]:
    """``{package: problem}`` for each ``python.packages`` pin that is not what the image's Python gets from the lock.

    The image's Python is ``docker.python_version``. An empty result means every pin matches.
    """
    python_version = (bentofile.get("docker") or {}).get("python_version")
    if not python_version:
        raise BentoBuildError("bentofile.yaml: set docker.python_version (the image's Python, e.g. '3.11')")
    locked = locked_for_image(lock, image_environment(python_version))
    problems: dict[str, str] = {}
    for line in (bentofile.get("python") or {}).get("packages", []):
        name, sep, pinned = str(line).partition("==")
        name = canonicalize_name(name.strip())
        if not sep:
            problems[name] = f"{line!r} is not pinned with =="
        elif name not in locked:
            problems[name] = f"pinned {pinned}, but uv.lock installs no {name} on Python {python_version}"
        elif locked[name] != pinned.strip():
            problems[name] = f"pinned {pinned}, uv.lock has {locked[name]} for Python {python_version}"
    return problems
