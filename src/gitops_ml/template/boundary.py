"""Where the engine's code reaches into the team's: every import of a team module by an engine module.

The engine may reach the team's code only through ``pipeline/interface.py`` and the typed params of ``config.py``
(docs/layout.md). This lists what it actually imports, from the source (``ast``: no module is imported), so that
tests/template/test_parts.py can hold the engine to those two doors and the conformance kit (tests/conformance) can
check that the team's interface still offers every name the engine imports from it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.template.parts import Layout, Part, load_layout

PACKAGE = "gitops_ml"
SOURCE_ROOT = Path("src")
INTERFACE_MODULE = "gitops_ml.pipeline.interface"
PARAMS_MODULE = "gitops_ml.config"
DOORS = frozenset({INTERFACE_MODULE, PARAMS_MODULE})
"""The team's modules the engine may import."""


@dataclass(frozen=True)
class TeamImport:
    """One import of a team module (``module``, its ``names``) in the engine's file ``path``, at ``line``."""

    path: str
    line: int
    module: str
    names: tuple[str, ...]


def _module_file(root: Path, module: str) -> str | None:
    """The source file of ``module`` under ``root/src`` (relative to ``root``), or None when it is not there."""
    base = SOURCE_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if (root / candidate).is_file():
            return candidate.as_posix()
    return None


def _imports(tree: ast.Module, root: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, module, names)`` of every import of the package, also inside functions (the CLI imports when a
    command runs); ``from pkg import module`` counts as an import of ``pkg.module``."""
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = []
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if _module_file(root, submodule) is not None:
                    found.append((node.lineno, submodule, ()))
                else:
                    names.append(alias.name)
            if names:
                found.append((node.lineno, node.module, tuple(names)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
    return sorted(entry for entry in found if entry[1].split(".")[0] == PACKAGE)


def team_imports(root: Path | str = ".", layout: Layout | None = None) -> list[TeamImport]:
    """Every import of a team module (parts.yaml) by an engine module under ``root/src``, in file order."""
    root = Path(root)
    layout = layout or load_layout(root)
    found = []
    for path in sorted((root / SOURCE_ROOT / PACKAGE).rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if layout.part_of(name) is not Part.ENGINE:
            continue
        for line, module, names in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=name), root):
            target = _module_file(root, module)
            if target is not None and layout.part_of(target) is Part.TEAM:
                found.append(TeamImport(name, line, module, names))
    return found


def interface_names(root: Path | str = ".") -> set[str]:
    """The names the engine imports from the team's ``pipeline/interface.py``."""
    return {name for found in team_imports(root) if found.module == INTERFACE_MODULE for name in found.names}
