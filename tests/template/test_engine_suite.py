"""End to end: `make engine-test` runs the template's own suite, at the version a project records, on the project's
engine files, and says what it did.

The template is a git repository of this checkout's files tagged v1.0.0; the project is made from it as GitHub's
"Use this template" makes one, then `make init-project`. The team commits its own params and a config.py that fails
on import: the engine's suite (a few of its fast tests, selected with PYTEST_ARGS) still passes, because the team's
files are never copied into it. Then the project breaks the gate's code, an engine file those tests cover: the suite
fails and names the test. Both runs leave nothing behind in the temporary directory. The refusals come before
anything is cloned, each with its fix.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_ml import params_yaml
from tests.support.fork import MAKE, edit, fork_env, make, use_this_template
from tests.support.projects import make_project, run

pytestmark = pytest.mark.slow(weight=2)

SELECTED = "PYTEST_ARGS=tests/gitops/test_gate.py -k 'clear_improvement or regression or first_release' -v"
"""A few fast tests of the template's suite that exercise an engine module (the gate's rules)."""
CONFIG = "src/gitops_ml/config.py"
TEAM_CONFIG_LINE = "\n\nraise RuntimeError(\"the team's config.py reached the engine's suite\")\n"
GATE = "src/gitops_ml/gitops/gate.py"
GATE_RULE = "return candidate - champion if higher_is_better(name) else champion - candidate"
BROKEN_RULE = "return champion - candidate if higher_is_better(name) else candidate - champion"


def engine_test(project: Path, scratch: Path, *args: str) -> subprocess.CompletedProcess:
    """``make engine-test ARGS`` in ``project``, its temporary files under ``scratch`` (TMPDIR)."""
    scratch.mkdir(exist_ok=True)
    env = fork_env(project) | {"TMPDIR": str(scratch)}
    return run([*MAKE, "engine-test", *args], project, env=env, check=False)


def commit(repo: Path, message: str) -> None:
    run(["git", "commit", "-qam", message], repo)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> dict:
    root = tmp_path_factory.mktemp("engine-suite")
    template = make_project(root / "template", dvc_cache)
    run(["git", "tag", "-a", "v1.0.0", "-m", "v1.0.0"], template)
    project = use_this_template(template, root / "project", "v1.0.0")
    make(project, "init-project", f"FROM={template}")
    record: dict = {"root": root, "template": template, "project": project, "scratch": root / "tmp"}

    # The team's own files: a hyperparameter, and a config.py the engine's suite must never import.
    doc = params_yaml.load((project / "params.yaml").read_text())
    params_yaml.set_value(doc["train"]["hist_gradient_boosting"], "learning_rate", 0.07)
    (project / "params.yaml").write_text(params_yaml.dump(doc))
    with (project / CONFIG).open("a") as config:
        config.write(TEAM_CONFIG_LINE)
    commit(project, "Our params and config")
    record["passing"] = engine_test(project, record["scratch"], SELECTED, "PYTEST_WORKERS=1")  # one xdist worker

    # An engine file the selected tests cover, broken by the project and committed.
    edit(project / GATE, GATE_RULE, BROKEN_RULE)
    commit(project, "A gate that prefers the worse model")
    record["failing"] = engine_test(project, record["scratch"], SELECTED, "PYTEST_WORKERS=0")  # no xdist
    return record


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_the_suite_passes_on_the_projects_engine_and_names_the_version(world: dict) -> None:
    passing = world["passing"]
    assert passing.returncode == 0, output(passing)[-4000:]
    assert f"cloning the template {world['template']} at v1.0.0" in passing.stderr
    assert "PASSED tests/gitops/test_gate.py::test_clear_improvement_releases" in passing.stdout
    assert "the engine's suite of the template v1.0.0 on this project's engine files passed" in passing.stderr


def test_the_teams_files_stay_the_templates(world: dict) -> None:
    """The team's params.yaml and its config.py (which raises on import) were committed: neither reached the
    clone, or every selected test, which imports the config, would fail."""
    passing = world["passing"]
    assert passing.returncode == 0, output(passing)[-4000:]
    assert "none differs" in passing.stderr
    assert "params.yaml" not in passing.stderr
    assert CONFIG not in passing.stderr
    assert "reached the engine's suite" not in output(passing)


def test_a_broken_engine_file_fails_the_suite_and_names_the_test(world: dict) -> None:
    failing = world["failing"]
    assert failing.returncode != 0
    assert f"1 differs from v1.0.0: {GATE}" in failing.stderr
    failed = "FAILED tests/gitops/test_gate.py::test_clear_improvement_releases"
    assert failed in failing.stdout, output(failing)[-4000:]
    assert "on this project's engine files failed (pytest exit status 1)" in failing.stderr


def test_the_temporary_clone_is_removed_either_way(world: dict) -> None:
    assert world["passing"].returncode == 0
    assert world["failing"].returncode != 0
    for result in (world["passing"], world["failing"]):
        assert f"into {world['scratch']}/gitops-ml-engine-test-" in result.stderr  # the clone was made there
    assert list(world["scratch"].glob("gitops-ml-engine-test-*")) == []


def test_only_the_engines_files_are_copied(tmp_path: Path) -> None:
    """The project's tracked files that both parts.yaml files leave to the engine: not the team's, not the generated
    ones, not what the template keeps to itself (copier.yml), not the answers file, not an untracked file."""
    from gitops_ml.template.engine_suite import engine_files

    parts = "team:\n  - /params.yaml\n  - /src/team/\ngenerated:\n  - /uv.lock\n"
    template = tmp_path / "template"
    template.mkdir()
    (template / "parts.yaml").write_text(parts)
    (template / "copier.yml").write_text("_exclude:\n  - /tests/**\n  - '!/tests/support'\n")
    project = tmp_path / "project"
    for name in ("parts.yaml", "params.yaml", "uv.lock", "src/team/code.py", "src/engine.py", "tests/mine.py",
                 "tests/support/helper.py", ".copier-answers.yml", "untracked.py"):  # fmt: skip
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(parts if name == "parts.yaml" else "x\n")
    run(["git", "init", "-q", "-b", "main"], project)
    run(["git", "add", "-A", ":!untracked.py"], project)
    assert engine_files(project, template) == ["parts.yaml", "src/engine.py", "tests/support/helper.py"]


def engine_test_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``gitops-ml engine-test --project PROJECT ARGS`` (a refusal needs no make)."""
    return run(["gitops-ml", "engine-test", "--project", str(project), *args], project, check=False)


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one-line error of a refused run (exit 1, nothing on stdout)."""
    assert result.returncode == 1, output(result)
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(result.stderr.split())


def variant(world: dict, name: str) -> Path:
    """A clone of the project (its history, its answers file), to change and commit."""
    path = world["root"] / name
    run(["git", "clone", "-q", str(world["project"]), str(path)], world["root"])
    return path


def test_a_project_without_the_answers_file_is_told_to_run_init_project(world: dict) -> None:
    path = variant(world, "no-answers")
    run(["git", "rm", "-q", ".copier-answers.yml"], path)
    commit(path, "Forget the template")
    assert "`make init-project FROM=<the template's URL>`" in refusal(engine_test_cli(path))


def test_a_version_the_template_never_released_is_refused(world: dict) -> None:
    path = variant(world, "unknown-version")
    edit(path / ".copier-answers.yml", "_commit: v1.0.0", "_commit: v9.9.9")
    commit(path, "A version from nowhere")
    message = refusal(engine_test_cli(path))
    assert f"{world['template']} has no tag v9.9.9 (the version .copier-answers.yml records)" in message
    assert "FROM=<URL or path>" in message


def test_an_unreachable_template_is_named_with_the_fix(world: dict) -> None:
    message = refusal(engine_test_cli(world["project"], "--from", str(world["root"] / "nowhere")))
    assert "cannot read the template's tags at" in message
    assert "FROM=path" in message


def test_a_directory_that_is_not_a_git_repository_is_refused(tmp_path: Path) -> None:
    assert "is not a git repository" in refusal(engine_test_cli(tmp_path))


def test_the_template_repository_itself_is_pointed_to_make_pytest(world: dict) -> None:
    assert "this is the template repository itself: its suite is `make pytest`" in refusal(
        engine_test_cli(world["template"])
    )
