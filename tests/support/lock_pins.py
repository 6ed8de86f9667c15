"""Which ``uv.lock`` versions the image's Python installs, and which ``bentofile.yaml`` pins drift from them.

``uv.lock`` is a universal lock: one package may have several entries split by marker (numpy 2.4.x for
Python < 3.12, 2.5.x for >= 3.12). The bento's image runs the Python of ``docker.python_version``, so its pins
must be the entries that Python would get. :func:`locked_for_image` answers that the way an installer reads the
lock: it walks the project's runtime dependencies (no dev group) from the root package, drops every edge whose
marker is false for the image, follows an edge's explicit ``version`` where the lock gives one and otherwise
keeps the entries whose ``resolution-markers`` hold. Markers are evaluated by ``packaging.markers.Marker``
(no hand-written marker parser); the graph walk is ours because no library exposes uv's lock reader.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from packaging.markers import Marker, default_environment
from packaging.utils import canonicalize_name


def image_environment(python_version: str) -> dict[str, str]:
    """Marker environment of a Linux CPython image running ``python_version`` (``"3.11"`` or ``"3.11.9"``)."""
    parts = str(python_version).split(".")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise ValueError(f"docker.python_version {python_version!r} is not X.Y or X.Y.Z")
    full = ".".join([*parts, "0"][:3])  # "3.11" -> "3.11.0": any 3.11.z satisfies the lock's < / >= 3.12 splits
    return default_environment() | {
        "python_version": ".".join(parts[:2]),
        "python_full_version": full,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }


def _holds(marker: str | None, environment: Mapping[str, str]) -> bool:
    return marker is None or Marker(marker).evaluate(dict(environment))


def _entry(lock: Mapping[str, Any], name: str, version: str | None, environment: Mapping[str, str]) -> dict:
    """The lock entry an edge to ``name`` (optionally pinned to ``version``) resolves to for ``environment``."""
    entries = [p for p in lock["package"] if p["name"] == name]
    if version is not None:
        entries = [p for p in entries if p["version"] == version]
    if len(entries) > 1:
        entries = [p for p in entries if any(_holds(m, environment) for m in p.get("resolution-markers", [None]))]
    if len(entries) != 1:
        found = [p["version"] for p in entries]
        raise ValueError(f"uv.lock: {len(entries)} entries of {name} {version or ''} apply to the image: {found}")
    return entries[0]


def locked_for_image(lock: Mapping[str, Any], environment: Mapping[str, str]) -> dict[str, str]:
    """``{package: version}`` that installing the root project's runtime dependencies from ``lock`` gives."""
    roots = [p for p in lock["package"] if "editable" in p["source"] or "virtual" in p["source"]]
    if len(roots) != 1:
        raise ValueError(f"uv.lock: expected one root (editable) package, found {[p['name'] for p in roots]}")
    versions: dict[str, str] = {}
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    queue: deque[tuple[dict, tuple[str, ...]]] = deque([(roots[0], ())])
    while queue:
        package, extras = queue.popleft()
        key = (package["name"], package["version"], extras)
        if key in seen:
            continue
        seen.add(key)
        if package is not roots[0]:
            versions[package["name"]] = package["version"]
        edges = list(package.get("dependencies", []))
        for extra in extras:
            edges += package.get("optional-dependencies", {}).get(extra, [])
        for edge in edges:
            if _holds(edge.get("marker"), environment):
                target = _entry(lock, edge["name"], edge.get("version"), environment)
                queue.append((target, tuple(sorted(edge.get("extra", [])))))
    return versions


def pin_drift(bentofile: Mapping[str, Any], lock: Mapping[str, Any]) -> dict[str, str]:
    """``{package: problem}`` for each ``python.packages`` pin that is not what the image's Python gets from the lock.

    The image's Python is ``docker.python_version``. An empty result means every pin matches.
    """
    python_version = (bentofile.get("docker") or {}).get("python_version")
    if not python_version:
        raise ValueError("bentofile.yaml: set docker.python_version (the image's Python, e.g. '3.11')")
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
