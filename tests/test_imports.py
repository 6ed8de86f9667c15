"""The package has no import cycle, and the CLI starts without the heavy libraries (they load when a command runs)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("pandas", "numpy", "sklearn", "dvc", "mlflow", "bentoml")


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module, package: str) -> set[str]:
    """Modules of ``package`` imported when the module loads (not inside functions or `if TYPE_CHECKING:`)."""
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_cycles(root: Path, package: str) -> list[list[str]]:
    """Every cycle of load-time imports among the modules of ``package`` under ``root`` (empty when none)."""
    modules = {_module_name(p, root): p for p in (root / package).rglob("*.py")}
    trees = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules.items()}
    graph = {name: sorted(m for m in _top_level_imports(tree, package) if m in modules) for name, tree in trees.items()}
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for nxt in graph[name]:
            if state.get(nxt) == "open":
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_import_cycle_in_src():
    assert import_cycles(SRC, "gitops_ml") == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("from pkg import a\n\n\ndef later():\n    from pkg import c\n")
    (package / "c.py").write_text("import pkg.b\n")
    assert import_cycles(tmp_path, "pkg") == [["pkg.a", "pkg.b", "pkg.a"]]


def test_command_help_loads_no_heavy_library():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from gitops_ml.cli import app\n"
        "result = CliRunner().invoke(app, ['validate', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_help_is_grouped_by_flow():
    from typer.testing import CliRunner

    from gitops_ml.cli import app

    text = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}).output
    positions = [text.index(panel) for panel in ("Pipeline", "Pull requests", "Releases", "Serving")]
    assert positions == sorted(positions)
