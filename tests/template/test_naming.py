"""The project's name in its package metadata: `gitops-ml rename` (and init-data, init-project) name the Python
distribution in pyproject.toml and uv.lock, and the README's title, after ``project.name``; uv agrees the lock is
still current, every other line stays, a title the team wrote stays, and a name or a file it cannot use is refused
with nothing written.

The upgrade keeping a renamed project's name through a version bump: tests/template/test_upgrade.py; engine-test not
counting the name as an engine change: tests/template/test_engine_suite.py.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitops_ml.cli import app
from gitops_ml.config import load_params
from gitops_ml.errors import ConfigError
from gitops_ml.template.naming import TEMPLATE_DISTRIBUTION, distribution_name, normalized, rename_distribution
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.projects import ROOT, run
from tests.support.tree import snapshot

UV = Path(os.environ.get("UV") or ROOT / ".tools" / "bin" / "uv")
"""The uv that runs this suite (`uv run` names itself in $UV; make installs it in .tools/bin)."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What renaming touches, copied from this checkout: pyproject.toml, uv.lock, the fixture's params.yaml, and
    what `uv lock --check` reads besides (the README the metadata names, the package)."""
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copy2(FIXTURE_PARAMS, tmp_path / "params.yaml")
    (tmp_path / "src" / "gitops_ml").mkdir(parents=True)
    (tmp_path / "src" / "gitops_ml" / "__init__.py").write_text("")
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    run(["git", "add", "-A"], tmp_path)  # the snapshots cover git's index too
    return tmp_path


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and line[:3] not in ("+++", "---")]  # fmt: skip


def test_the_template_repository_keeps_its_own_distribution_name() -> None:
    assert distribution_name(ROOT) == TEMPLATE_DISTRIBUTION


@pytest.mark.parametrize(("name", "spelled"), [("churn-model", "churn-model"), ("Churn_Model.v2", "churn-model-v2")])
def test_the_distribution_is_renamed_on_one_line_of_each_file_and_uv_agrees(
    project: Path, name: str, spelled: str
) -> None:
    pyproject, lock = (project / "pyproject.toml").read_text(), (project / "uv.lock").read_text()
    assert rename_distribution(project, name) is True
    assert distribution_name(project) == name
    assert normalized(name) == spelled
    assert changed_lines(pyproject, (project / "pyproject.toml").read_text()) == [
        f'-name = "{TEMPLATE_DISTRIBUTION}"',
        f'+name = "{name}"',
    ]
    assert changed_lines(lock, (project / "uv.lock").read_text()) == [
        f'-name = "{TEMPLATE_DISTRIBUTION}"',
        f'+name = "{spelled}"',
    ]
    checked = subprocess.run(
        [str(UV), "lock", "--check", "--offline"], cwd=project, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr  # the lock is current for the renamed project
    assert rename_distribution(project, name) is False  # a second time changes nothing


def test_a_lock_without_the_projects_entry_is_refused_and_nothing_is_written(project: Path) -> None:
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace('source = { editable = "." }', 'source = { registry = "x" }'))
    before = snapshot(project)
    with pytest.raises(ConfigError, match=r"uv.lock holds 0 entries of the project itself .* run `uv lock`"):
        rename_distribution(project, "churn-model")
    assert snapshot(project) == before


def test_a_pyproject_without_a_project_name_is_refused(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'name = "{TEMPLATE_DISTRIBUTION}"\n', "", 1))
    before = snapshot(project)
    with pytest.raises(ConfigError, match=r'\[project\] has no `name = "..."` line'):
        rename_distribution(project, "churn-model")
    assert snapshot(project) == before


def test_rename_names_the_project_everywhere_at_once_and_keeps_the_comments(project: Path) -> None:
    result = CliRunner().invoke(app, ["rename", "churn-model", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert "the project is now churn-model" in " ".join(result.output.split())
    assert load_params(project / "params.yaml").project.name == "churn-model"
    assert re.search(r"^  name: churn-model +# letters, digits", (project / "params.yaml").read_text(), re.MULTILINE)
    assert distribution_name(project) == "churn-model"
    assert 'name = "churn-model"\nversion = ' in (project / "uv.lock").read_text()
    readme = (project / "README.md").read_text()
    assert readme.startswith("# churn-model\n")  # was the template's title
    assert readme.partition("\n")[2] == (ROOT / "README.md").read_text().partition("\n")[2]  # only the title changed


def test_a_readme_title_the_team_wrote_is_left_alone(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text("# Churn at Acme\n\nOur model.\n")
    result = CliRunner().invoke(app, ["rename", "churn-model", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert readme.read_text() == "# Churn at Acme\n\nOur model.\n"
    assert distribution_name(project) == "churn-model"


def test_a_title_that_is_the_old_name_follows_the_new_one(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text("# fraud-detection\n\nOur model.\n")  # as init-project titles it (the fixture's name)
    result = CliRunner().invoke(app, ["rename", "churn-model", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert readme.read_text() == "# churn-model\n\nOur model.\n"


@pytest.mark.parametrize("bad", ["churn model", "churn-", "x" * 64])
def test_a_name_params_yaml_refuses_is_refused_by_name_and_nothing_is_written(project: Path, bad: str) -> None:
    before = snapshot(project)
    result = CliRunner().invoke(app, ["rename", bad, "--project", str(project)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith("error: ") and "project.name" in message, message
    assert snapshot(project) == before
