"""parts.yaml and copier.yml: which file is whose, how big each part is, and that the lists name real files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gitops_ml.template.boundary import DOORS, interface_names, team_imports
from gitops_ml.template.parts import Layout, Part, PartsError, count_lines, footprint, load_layout, tracked_files
from tests.support.projects import ROOT, make_project, run

TEAM_LINES_LIMIT = 6000
"""Issue 24: a new project holds at most this many lines that the team owns (lockfiles and data excluded)."""


@pytest.fixture(scope="module")
def layout() -> Layout:
    return load_layout(ROOT)


@pytest.mark.parametrize(
    ("path", "part"),
    [
        ("params.yaml", Part.TEAM),
        ("src/gitops_ml/pipeline/train.py", Part.TEAM),
        ("src/gitops_ml/pipeline/distributed/train.py", Part.TEAM),
        ("tests/project/test_own_data.py", Part.TEAM),
        ("deploy/overlays/production/kustomization.yaml", Part.TEAM),
        ("src/gitops_ml/gitops/gate.py", Part.ENGINE),
        (".github/workflows/ci.yml", Part.ENGINE),
        ("Makefile", Part.ENGINE),
        ("tests/conftest.py", Part.ENGINE),
        ("tests/support/projects.py", Part.ENGINE),
        ("tests/deploy/schemas/kubernetes.dask.org/daskcluster_v1.json", Part.ENGINE),
        ("tests/deploy/test_check.py", Part.TEMPLATE_ONLY),
        ("tests/gitops/test_gate_flow.py", Part.TEMPLATE_ONLY),
        ("tests/test_fork.py", Part.TEMPLATE_ONLY),
        ("benchmarks/run.py", Part.TEMPLATE_ONLY),
        ("docs/performance.md", Part.TEMPLATE_ONLY),
        ("docs/releases.md", Part.ENGINE),
        ("copier.yml", Part.TEMPLATE_ONLY),
        ("uv.lock", Part.GENERATED),
        ("dvc.lock", Part.GENERATED),
    ],
)
def test_each_file_belongs_to_its_part(layout: Layout, path: str, part: Part) -> None:
    assert layout.part_of(path) is part


def test_every_pattern_names_a_tracked_file(layout: Layout) -> None:
    """A stale pattern (a file renamed or removed) would silently move files between parts."""
    from pathspec import PathSpec

    files = tracked_files(ROOT)
    for pattern in [*layout.team, *layout.generated]:
        spec = PathSpec.from_lines("gitignore", [pattern])
        assert any(spec.match_file(name) for name in files), f"parts.yaml: {pattern} matches no tracked file"


def test_a_new_projects_team_part_stays_small(tmp_path: Path, dvc_cache: Path) -> None:
    sizes = footprint(make_project(tmp_path / "project", dvc_cache))  # the fixture's params, as a new project's
    team = sizes[Part.TEAM]
    assert 0 < team.lines <= TEAM_LINES_LIMIT, team.largest[:10]
    assert sizes[Part.TEMPLATE_ONLY].files > 0
    assert sizes[Part.GENERATED].files >= 2  # uv.lock and dvc.lock are not counted as anyone's


def test_the_changelog_has_the_version_pyproject_declares() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"\n## {version} (" in (ROOT / "CHANGELOG.md").read_text()


def repo_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    run(["git", "add", "-A"], tmp_path)
    return tmp_path


def test_footprint_counts_text_lines_per_part_and_leaves_binary_files_out(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {
        "parts.yaml": b"team:\n  - /params.yaml\n  - /src/mine/\ngenerated:\n  - /uv.lock\n",
        "copier.yml": b"_exclude:\n  - /bench/\n",
        "params.yaml": b"a: 1\nb: 2\n",
        "src/mine/model.py": b"x = 1\ny = 2\nz = 3",  # no newline at the end: still three lines
        "src/engine.py": b"pass\n",
        "bench/run.py": b"1\n2\n",
        "uv.lock": b"lock\n",
        "logo.png": b"\x89PNG\0\0binary",
    })  # fmt: skip
    sizes = footprint(repo)
    assert (sizes[Part.TEAM].files, sizes[Part.TEAM].lines) == (2, 5)
    assert sizes[Part.TEAM].largest == [(3, "src/mine/model.py"), (2, "params.yaml")]
    assert (sizes[Part.TEMPLATE_ONLY].files, sizes[Part.TEMPLATE_ONLY].lines) == (1, 2)
    assert (sizes[Part.GENERATED].files, sizes[Part.ENGINE].files) == (1, 3)  # parts.yaml, copier.yml, src/engine.py
    assert count_lines(repo / "logo.png") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("team: /params.yaml\n", "`team` must be a list"),
        ("team: []\nmodel: []\n", "unknown part(s) ['model']"),
        ("- a\n", "must be a mapping"),
        ("team: [\n", "not valid YAML"),
    ],
)
def test_a_malformed_parts_file_is_named_with_the_fix(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "parts.yaml").write_text(text)
    with pytest.raises(PartsError, match=re.escape(message)) as caught:
        load_layout(tmp_path)
    assert "parts.yaml" in str(caught.value)


def test_a_missing_parts_file_says_what_it_is_for(tmp_path: Path) -> None:
    with pytest.raises(PartsError, match=re.escape("parts.yaml is missing: it lists which files are the team's")):
        load_layout(tmp_path)


def test_the_engine_reaches_the_teams_code_only_through_the_interface_and_the_params() -> None:
    crossings = [found for found in team_imports(ROOT) if found.module not in DOORS]
    assert not crossings, (
        "engine modules import the team's modules directly (use pipeline/interface.py):\n"
        + "\n".join(f"{found.path}:{found.line} imports {found.module}" for found in crossings)
    )
    assert {found.module for found in team_imports(ROOT)} == DOORS  # both doors are in use: the check reads imports


def test_the_boundary_check_names_an_engine_module_that_imports_a_team_module(tmp_path: Path) -> None:
    for name in ("parts.yaml", "copier.yml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    package = tmp_path / "src" / "gitops_ml"
    (package / "pipeline").mkdir(parents=True)
    (package / "pipeline" / "train.py").write_text("def fit():\n    pass\n")
    (package / "pipeline" / "interface.py").write_text("def score_frame():\n    pass\n")
    (package / "gate.py").write_text(
        "from gitops_ml.pipeline.interface import score_frame\n\n\n"
        "def later():\n    from gitops_ml.pipeline import train\n"
    )
    assert [(f.path, f.line, f.module) for f in team_imports(tmp_path)] == [
        ("src/gitops_ml/gate.py", 1, "gitops_ml.pipeline.interface"),
        ("src/gitops_ml/gate.py", 5, "gitops_ml.pipeline.train"),
    ]
    assert interface_names(tmp_path) == {"score_frame"}
