"""Which part of the project each file belongs to, read from ``parts.yaml`` and ``copier.yml``, and their size.

``parts.yaml`` names the team's files and the generated ones; ``copier.yml``'s ``_exclude`` names what stays in
the template repository; every other tracked file is the engine's. Patterns are gitignore-style and matched with
pathspec, the matcher copier itself uses, so this module and ``copier copy``/``copier update`` never disagree
about a file.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ml.errors import ProjectError
from gitops_ml.io import load_yaml
from gitops_ml.vcs import git_stdout

PARTS_FILE = "parts.yaml"
COPIER_FILE = "copier.yml"


class PartsError(ProjectError, ValueError):
    """``parts.yaml`` or ``copier.yml`` is missing or malformed."""


class Part(enum.StrEnum):
    """The parts of a project, in the order ``make footprint`` prints them."""

    TEAM = "team"
    ENGINE = "engine"
    TEMPLATE_ONLY = "template-only"
    GENERATED = "generated"


@dataclass(frozen=True)
class Layout:
    """The patterns of each part: the team's and the generated files (parts.yaml), the template's own (copier.yml)."""

    team: tuple[str, ...]
    generated: tuple[str, ...]
    template_only: tuple[str, ...] = ()
    _matchers: dict[Part, Callable[[str], bool]] = field(default_factory=dict, compare=False, repr=False)

    def part_of(self, path: str) -> Part:
        """The part ``path`` (relative to the root, ``/``-separated) belongs to; engine when no pattern names it.

        The template's own files are checked first (copier never copies them, whatever else names them)."""
        for part, patterns in (
            (Part.TEMPLATE_ONLY, self.template_only),
            (Part.GENERATED, self.generated),
            (Part.TEAM, self.team),
        ):
            if part not in self._matchers:
                self._matchers[part] = _matcher(patterns)
            if self._matchers[part](path):
                return part
        return Part.ENGINE


def _matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """A gitignore-style matcher of ``patterns`` (pathspec's, as copier uses; imported when first needed)."""
    from pathspec import PathSpec

    spec = PathSpec.from_lines("gitignore", list(patterns))
    return spec.match_file


def _patterns(data: Mapping[str, Any], key: str, source: Path) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise PartsError(f"{source}: `{key}` must be a list of gitignore-style patterns (strings), got {value!r}")
    return tuple(value)


def _mapping(path: Path) -> Mapping[str, Any]:
    import yaml

    try:
        data = load_yaml(path.read_text())
    except FileNotFoundError:
        raise PartsError(f"{path} is missing: it lists which files are the team's (see docs/layout.md)") from None
    except yaml.YAMLError as exc:
        raise PartsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise PartsError(f"{path} must be a mapping of part names to lists of patterns, got {type(data).__name__}")
    return data


def load_layout(root: Path | str = ".") -> Layout:
    """The layout of the project at ``root``: ``parts.yaml``, plus ``copier.yml``'s ``_exclude`` where it exists
    (only the template repository has one: copier never copies it into a project)."""
    root = Path(root)
    parts = _mapping(root / PARTS_FILE)
    unknown = set(parts) - {Part.TEAM.value, Part.GENERATED.value}
    if unknown:
        raise PartsError(
            f"{root / PARTS_FILE}: unknown part(s) {sorted(unknown)}; the parts are `team` and `generated` "
            "(the engine is every other file; the template's own are copier.yml's `_exclude`)"
        )
    template_only: tuple[str, ...] = ()
    if (root / COPIER_FILE).is_file():
        template_only = _patterns(_mapping(root / COPIER_FILE), "_exclude", root / COPIER_FILE)
    return Layout(
        team=_patterns(parts, Part.TEAM.value, root / PARTS_FILE),
        generated=_patterns(parts, Part.GENERATED.value, root / PARTS_FILE),
        template_only=template_only,
    )


@dataclass
class PartSize:
    """How many files and lines of one part."""

    files: int = 0
    lines: int = 0
    largest: list[tuple[int, str]] = field(default_factory=list)
    """(lines, path) of its files, largest first."""


def tracked_files(root: Path | str = ".") -> list[str]:
    """The files git tracks under ``root``, relative to it, ``/``-separated."""
    return [name for name in git_stdout("ls-files", "-z", cwd=root).split("\0") if name]


def count_lines(path: Path) -> int | None:
    """The lines of a text file; None for a binary one (a NUL byte in its first 8 KiB) or one that cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def footprint(root: Path | str = ".", layout: Layout | None = None) -> dict[Part, PartSize]:
    """Files and lines of text per part of the tracked files at ``root`` (binary files are left out)."""
    root = Path(root)
    layout = layout or load_layout(root)
    sizes = {part: PartSize() for part in Part}
    for name in tracked_files(root):
        lines = count_lines(root / name)
        if lines is None:
            continue
        size = sizes[layout.part_of(name)]
        size.files += 1
        size.lines += lines
        size.largest.append((lines, name))
    for size in sizes.values():
        size.largest.sort(key=lambda item: (-item[0], item[1]))
    return sizes
