"""What `make init-project` and `make upgrade` refuse, each with its fix, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml.template.upgrade import Answers, UpgradeError, init_project, read_answers, upgrade, write_answers
from tests.support.projects import run


def repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    run(["git", "init", "-q", "-b", "main"], path)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-qm", "start"], path)
    return path


def head(path: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], path).stdout.strip()


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A tiny template repository with the tag v1.0.0."""
    path = repo(tmp_path / "template", {"copier.yml": "_exclude: [copier.yml]\n", "a.txt": "a\n"})
    run(["git", "tag", "v1.0.0"], path)
    return path


@pytest.fixture
def project(tmp_path: Path, template: Path) -> Path:
    """A project that records ``template`` at v1.0.0."""
    path = tmp_path / "project"
    path.mkdir()
    write_answers(path, Answers(source=str(template), version="v1.0.0", extra={}))
    return repo(path, {"a.txt": "a\n"})


def test_the_answers_round_trip(project: Path, template: Path) -> None:
    assert read_answers(project) == Answers(source=str(template), version="v1.0.0", extra={})


def test_a_project_without_answers_is_told_to_run_init_project(tmp_path: Path) -> None:
    path = repo(tmp_path / "plain", {"a.txt": "a\n"})
    with pytest.raises(UpgradeError, match=r"make init-project FROM=<the template's URL>"):
        upgrade(path)


def test_broken_answers_name_the_missing_keys(tmp_path: Path) -> None:
    path = repo(tmp_path / "broken", {".copier-answers.yml": "_commit: v1.0.0\n"})
    with pytest.raises(UpgradeError, match=r"must record `_src_path`"):
        upgrade(path)


def test_uncommitted_changes_are_refused_and_left_alone(project: Path) -> None:
    (project / "a.txt").write_text("changed\n")
    with pytest.raises(UpgradeError, match=r"commit or stash your changes before upgrading \(uncommitted: a.txt\)"):
        upgrade(project)
    assert (project / "a.txt").read_text() == "changed\n"


def test_a_version_the_template_never_released_is_refused(project: Path) -> None:
    before = head(project)
    with pytest.raises(UpgradeError, match=r"has no tag v9\.9\.9: name a version the template has released"):
        upgrade(project, to="v9.9.9")
    assert head(project) == before


def test_an_unreachable_template_is_named_with_the_fix(project: Path, tmp_path: Path) -> None:
    before = head(project)
    with pytest.raises(UpgradeError, match=r"cannot read the template's tags at .*FROM=path"):
        upgrade(project, to="v1.0.0", source=str(tmp_path / "nowhere"))
    assert head(project) == before
    assert run(["git", "status", "--porcelain"], project).stdout == ""


def test_init_project_refuses_a_project_that_records_its_template(project: Path, template: Path) -> None:
    with pytest.raises(UpgradeError, match=r"already records its template: .* at v1\.0\.0"):
        init_project(project, str(template))


def test_init_project_refuses_a_tree_that_is_not_a_copy_of_the_template(tmp_path: Path, template: Path) -> None:
    path = repo(tmp_path / "other", {"a.txt": "a\n"})
    with pytest.raises(UpgradeError, match=r"copier\.yml is missing"):
        init_project(path, str(template))


def test_init_project_refuses_a_template_without_the_copys_version(tmp_path: Path, template: Path) -> None:
    path = repo(tmp_path / "copy", {
        "copier.yml": "_exclude: [copier.yml]\n", "parts.yaml": "team: []\n",
        "pyproject.toml": '[project]\nname = "x"\nversion = "2.0.0"\n',
    })  # fmt: skip
    before = head(path)
    with pytest.raises(UpgradeError, match=r"has no tag v2\.0\.0 \(this copy's engine version\)"):
        init_project(path, str(template))
    assert head(path) == before
    assert not (path / ".copier-answers.yml").exists()


def test_init_project_writes_the_answers_as_copier_renders_them() -> None:
    """The header init-project writes is the template's .copier-answers.yml.jinja's, so both ways agree line for
    line (a difference would be a needless change, or a conflict, on the first upgrade)."""
    from gitops_ml.template.upgrade import ANSWERS_HEADER, ANSWERS_TEMPLATE
    from tests.support.projects import ROOT

    lines = (ROOT / ANSWERS_TEMPLATE).read_text().splitlines(keepends=True)
    assert "".join(line for line in lines if line.startswith("#")) == ANSWERS_HEADER
