"""The project's name in its Python package metadata (``[project] name`` in pyproject.toml and uv.lock's entry of
the project itself) and in its README's title.

A project is named ``project.name`` (params.yaml) wherever users see it: the MLflow experiment, the bento, the
release notes, its Python distribution (``uv pip list``, a wheel's name) and the README's title. Both follow
``project.name`` from ``make init-project`` on, and every command that sets the name renames them too
(``make rename``, ``make init-data``); a title the team wrote itself is left alone. The template repository
itself keeps the distribution :data:`TEMPLATE_DISTRIBUTION`; ``make upgrade`` and ``make engine-test`` set a
project's name aside while they merge or compare the engine's files, so the name is never a difference nor a
conflict (the name's line sits next to the version's in both files, and git merges adjacent changes as a conflict).

Written as two one-line text edits rather than by ``uv lock``: re-locking resolves against the package index,
which needs the network and may move other pins, where renaming the project changes exactly one line of each
file (``uv lock --check`` then agrees the lock is current), and every comment of pyproject.toml stays.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.config import Params, parse_params
from gitops_ml.errors import ConfigError
from gitops_ml.io import atomic_write, restorable

TEMPLATE_DISTRIBUTION = "gitops-ml"
"""The template repository's own distribution name (what a project's name is set aside to)."""
PYPROJECT = Path("pyproject.toml")
LOCK = Path("uv.lock")
PARAMS = Path("params.yaml")
README = Path("README.md")
_PROJECT_TABLE = re.compile(r"^\[project\]\s*$", re.MULTILINE)
_NAME_LINE = re.compile(r'^name\s*=\s*"([^"]*)"[ \t]*$', re.MULTILINE)
_LOCK_ROOT = re.compile(r'(\[\[package\]\]\nname = ")([^"]+)("\nversion = "[^"]*"\nsource = \{ editable = "\." \})')


def normalized(name: str) -> str:
    """``name`` as package indexes and uv.lock spell it (PEP 503: lower case, each run of ``-_.`` one ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_name(root: Path) -> str:
    """The distribution name pyproject.toml under ``root`` gives (``[project] name``)."""
    try:
        return str(tomllib.loads((root / PYPROJECT).read_text(encoding="utf-8"))["project"]["name"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{root / PYPROJECT} gives no [project] name ({exc}): restore it from the template") from None


@dataclass(frozen=True)
class Renamed:
    """The new texts of pyproject.toml, uv.lock and (when its title changes) the README, not yet written."""

    pyproject: str
    lock: str
    readme: str | None = None


def pyproject_named(text: str, name: str, path: Path) -> str:
    """pyproject.toml's ``text`` (read from ``path``) with ``[project] name`` set to ``name``, the rest as it was."""
    table = _PROJECT_TABLE.search(text)
    if table is None:
        raise ConfigError(f"{path} has no [project] table: restore it from the template")
    end = re.compile(r"^\[", re.MULTILINE).search(text, table.end())
    stop = end.start() if end else len(text)
    line = _NAME_LINE.search(text, table.end(), stop)
    if line is None:
        raise ConfigError(f'{path}: [project] has no `name = "..."` line: restore it from the template')
    return f"{text[: line.start(1)]}{name}{text[line.end(1) :]}"


def _renamed_lock(text: str, name: str, path: Path) -> str:
    roots = _LOCK_ROOT.findall(text)
    if len(roots) != 1:
        raise ConfigError(
            f'{path} holds {len(roots)} entries of the project itself (`source = {{ editable = "." }}`), not one: '
            "run `uv lock` to rewrite it, then rename again"
        )
    return _LOCK_ROOT.sub(lambda found: f"{found.group(1)}{normalized(name)}{found.group(3)}", text)


def retitled(text: str, old_names: tuple[str, ...], name: str) -> str:
    """The README ``text`` titled ``# name`` when its title is still one of ``old_names``' (``# <old>`` or
    ``# <old>: ...``, as the template's reads); else ``text`` as it is (the team wrote its own title)."""
    first, newline, rest = text.partition("\n")
    if any(first == f"# {old}" or first.startswith(f"# {old}:") for old in old_names):
        return f"# {name}{newline}{rest}"
    return text


def renamed(root: Path, name: str, titled_after: tuple[str, ...] = ()) -> Renamed:
    """pyproject.toml's and uv.lock's texts with the project's distribution named ``name``, and the README's when
    its title is still one of ``titled_after`` (:func:`retitled`; no names: the README is not looked at). Nothing
    is written."""
    pyproject, lock = root / PYPROJECT, root / LOCK
    for path in (pyproject, lock):
        if not path.is_file():
            raise ConfigError(f"{path} is missing: restore it from the template (`git checkout -- {path.name}`)")
    readme = None
    if titled_after and (root / README).is_file():
        before = (root / README).read_text(encoding="utf-8")
        after = retitled(before, titled_after, name)
        readme = after if after != before else None
    return Renamed(
        pyproject_named(pyproject.read_text(encoding="utf-8"), name, pyproject),
        _renamed_lock(lock.read_text(encoding="utf-8"), name, lock),
        readme,
    )


def write_renamed(root: Path, texts: Renamed) -> None:
    """Write the files, all or none."""
    files = [(PYPROJECT, texts.pyproject), (LOCK, texts.lock)]
    if texts.readme is not None:
        files.append((README, texts.readme))
    with restorable(root, [path for path, _ in files]):
        for path, text in files:
            with atomic_write(root / path) as tmp:
                tmp.write_text(text, encoding="utf-8")


def rename_distribution(root: Path, name: str) -> bool:
    """Name the project's distribution ``name`` in pyproject.toml and uv.lock under ``root``; return whether either
    changed. The next ``make`` target installs the project under its new name."""
    before = (root / PYPROJECT, root / LOCK)
    texts = renamed(root, name)
    if texts.pyproject == before[0].read_text(encoding="utf-8") and texts.lock == before[1].read_text(encoding="utf-8"):
        return False
    write_renamed(root, texts)
    return True


def rename_project(root: Path, name: str) -> Params:
    """Set ``project.name`` in params.yaml (its comments kept) and name the distribution and the README's title after
    it, all files or none; return the params as they now read. A name params.yaml refuses is refused before anything
    is written."""
    import yaml

    from gitops_ml import params_yaml

    doc = params_yaml.load((root / PARAMS).read_text(encoding="utf-8"))
    project = doc.get("project")
    if project is None:
        raise ConfigError(f"{root / PARAMS} has no project: section: restore it from the template")
    old = str(project.get("name", ""))
    params_yaml.set_value(project, "name", name)
    text = params_yaml.dump(doc)
    params = parse_params(yaml.safe_load(text), source=f"params.yaml with project.name {name!r}")
    texts = renamed(root, name, titled_after=(old, TEMPLATE_DISTRIBUTION))
    with restorable(root, [PARAMS]):
        with atomic_write(root / PARAMS) as tmp:
            tmp.write_text(text, encoding="utf-8")
        write_renamed(root, texts)
    return params
