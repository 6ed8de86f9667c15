"""End to end: a team's fork of template version 1.0.0 is brought to 1.1.0 with `make upgrade`, keeping its work.

The template is a git repository of this checkout's files (the fixture project's params and data), tagged v1.0.0.
A fork starts the way GitHub's "Use this template" starts one (a plain copy, new history), then `make init-project`
records the template. The team adopts its own data (`make init-data`), changes params, its pipeline code, its own
checks and a workflow variable, and commits. The template then releases v1.1.0, changing the gate's code and the
same workflow elsewhere, and moves (the recorded location is gone: `FROM=` names the new one). `make upgrade` must
merge with no conflict, keep every change of the team, land as one commit, and leave the team's checks green on the
upgraded code. A second fork that changed the very line v1.1.0 changes gets the conflict named, and no commit.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_ml import params_yaml
from gitops_ml.template.naming import TEMPLATE_DISTRIBUTION, distribution_name
from tests.support.fork import MAKE, edit, fork_env, make, use_this_template
from tests.support.own_data import numeric_table
from tests.support.projects import make_project, run

pytestmark = pytest.mark.slow(weight=4)

GATE = "src/gitops_ml/gitops/gate.py"
CI = ".github/workflows/ci.yml"
GATE_V11 = '\n\nGATE_RULES_VERSION = 2\n"""Raised by the template when the gate\'s rules change."""\n'
TEAM_VARIABLE = '  TEAM_CHANNEL: "#fraud-models"  # the team\'s own workflow variable\n'
TEAM_CHECK = "tests/project/test_team_rule.py"
TEAM_CODE = "src/gitops_ml/pipeline/features.py"
TEAM_CODE_LINE = "\n\n# The team's note: features are computed here and nowhere else.\n"


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout


def release(template: Path, version: str, edits: dict[str, tuple[str, str]]) -> None:
    """Commit ``edits`` (path -> (old, new) text) and the version bump (pyproject.toml, and uv.lock as `uv lock`
    writes it) to the template, and tag ``v<version>``."""
    root = f'name = "{TEMPLATE_DISTRIBUTION}"\nversion = '
    bump = {
        "pyproject.toml": ('version = "1.0.0"', f'version = "{version}"'),
        "uv.lock": (f'{root}"1.0.0"', f'{root}"{version}"'),
    }
    for name, (old, new) in {**edits, **bump}.items():
        path = template / name
        text = path.read_text()
        assert text.count(old) == 1, f"{name}: {old!r} found {text.count(old)} times"
        path.write_text(text.replace(old, new))
    run(["git", "commit", "-qam", f"Template {version}"], template)
    run(["git", "tag", "-a", f"v{version}", "-m", f"v{version}"], template)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> dict:
    root = tmp_path_factory.mktemp("upgrade")
    template = make_project(root / "template", dvc_cache)
    run(["git", "tag", "-a", "v1.0.0", "-m", "v1.0.0"], template)

    fork = use_this_template(template, root / "fork", "v1.0.0")
    record: dict = {"root": root, "fork": fork, "template_path": str(template)}
    record["init"] = make(fork, "init-project", f"FROM={template}")

    # The team's work: its own data, a hyperparameter, its pipeline code, its own check, a workflow variable.
    source = root / "visits.csv"
    numeric_table(rows=400).to_csv(source, index=False)
    make(fork, "init-data", f"CSV={source}", "TARGET=converted")
    doc = params_yaml.load((fork / "params.yaml").read_text())
    params_yaml.set_value(doc["train"]["hist_gradient_boosting"], "learning_rate", 0.07)
    (fork / "params.yaml").write_text(params_yaml.dump(doc))
    with (fork / TEAM_CODE).open("a") as code:
        code.write(TEAM_CODE_LINE)
    (fork / TEAM_CHECK).write_text(
        "import pandas as pd\n\n\n"
        "def test_the_visits_have_every_page_count_known(own_params, own_data):\n"
        '    assert pd.read_csv(own_data)["pages_viewed"].notna().all()\n'
    )
    edit(fork / CI, '  DVC_NO_ANALYTICS: "1"\n', '  DVC_NO_ANALYTICS: "1"\n' + TEAM_VARIABLE)
    run(["git", "add", "-A"], fork)
    run(["git", "commit", "-qm", "Our data, params, code, checks and workflow"], fork)
    record["team_commit"] = git(fork, "rev-parse", "HEAD").strip()
    record["team_params"] = (fork / "params.yaml").read_text()
    record["team_data_dvc"] = (fork / "data.dvc").read_text()

    # The template's next version changes the gate's code and the same workflow, in another place; then it moves.
    with (template / GATE).open("a") as gate:
        gate.write(GATE_V11)
    run(["git", "add", GATE], template)
    release(template, "1.1.0", {CI: ("    timeout-minutes: 30\n", "    timeout-minutes: 35\n")})
    moved = root / "template-moved"
    template.rename(moved)
    record["moved"] = moved
    record["upgrade"] = make(fork, "upgrade", "TO=v1.1.0", f"FROM={moved}", check=False)
    record["again"] = make(fork, "upgrade", "TO=v1.1.0", f"FROM={moved}", check=False)
    return record


def test_init_project_records_the_template_and_drops_its_own_files(world: dict) -> None:
    fork = world["fork"]
    assert "recorded the template" in world["init"].stderr + world["init"].stdout
    assert "the Python distribution and the README's title are fraud-detection" in " ".join(
        world["init"].stderr.split()
    )
    for name in ("benchmarks", "tests/test_fork.py", "tests/gitops", "copier.yml", ".copier-answers.yml.jinja",
                 "docs/performance.md", ".ci"):  # fmt: skip
        assert not (fork / name).exists(), name
    for name in ("tests/conftest.py", "tests/support/projects.py", "tests/project/conftest.py", "parts.yaml"):
        assert (fork / name).is_file(), name


def test_the_upgrade_merges_the_new_version_and_keeps_the_teams_work(world: dict) -> None:
    fork, upgrade = world["fork"], world["upgrade"]
    assert upgrade.returncode == 0, upgrade.stdout[-3000:] + upgrade.stderr[-3000:]
    assert GATE_V11 in (fork / GATE).read_text()
    ci = (fork / CI).read_text()
    assert TEAM_VARIABLE in ci
    assert "    timeout-minutes: 35\n" in ci
    assert (fork / "params.yaml").read_text() == world["team_params"]
    assert (fork / "data.dvc").read_text() == world["team_data_dvc"]
    assert (fork / TEAM_CODE).read_text().endswith(TEAM_CODE_LINE)
    assert (fork / TEAM_CHECK).is_file()
    assert 'version = "1.1.0"' in (fork / "pyproject.toml").read_text()
    # The team's name (init-data named the distribution after visits.csv) survives the version bump on the next line.
    assert distribution_name(fork) == "visits"
    assert (fork / "README.md").read_text().startswith("# visits\n")  # init-project titled it, init-data renamed it
    assert 'name = "visits"\nversion = "1.1.0"\nsource = { editable = "." }' in (fork / "uv.lock").read_text()
    assert not (fork / "benchmarks").exists()  # what stays in the template stays there
    assert run(["git", "grep", "-n", "-e", "^<<<<<<< ", "-e", "^>>>>>>> "], fork, check=False).stdout == ""


def test_the_upgrade_is_one_commit_and_the_recorded_location_stays(world: dict) -> None:
    fork = world["fork"]
    assert git(fork, "rev-parse", "HEAD~1").strip() == world["team_commit"]
    assert git(fork, "log", "-1", "--format=%s").strip() == "Upgrade the template from v1.0.0 to v1.1.0"
    assert git(fork, "status", "--porcelain") == ""
    answers = (fork / ".copier-answers.yml").read_text()
    assert "_commit: v1.1.0" in answers
    assert f"_src_path: {world['template_path']}" in answers  # FROM= was for that run only


def test_upgrading_to_the_same_version_again_changes_nothing(world: dict) -> None:
    again = world["again"]
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already at v1.1.0" in again.stderr
    assert git(world["fork"], "log", "-1", "--format=%s").strip() == "Upgrade the template from v1.0.0 to v1.1.0"


def test_the_forks_make_test_passes_on_the_upgraded_code(world: dict) -> None:
    """The fork's whole `make test` (what its CI runs): lint, workflow checks, types, the deploy check, and its
    tests, which are the team's checks, the conformance kit and the test helpers' own, with no coverage floor."""
    fork = world["fork"]
    env = fork_env(fork) | {"PYTHONPATH": str(fork / "src")}  # the fork's own engine, not this checkout's
    ours = subprocess.run(
        [*MAKE, "test", "PYTEST_ARGS=-p no:cacheprovider -v"], cwd=fork, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert ours.returncode == 0, ours.stdout[-6000:] + ours.stderr[-3000:]
    assert f"PASSED {TEAM_CHECK}::test_the_visits_have_every_page_count_known" in ours.stdout
    assert "PASSED tests/conformance/test_interface.py::test_the_services_scorer_agrees_with_score_frame" in ours.stdout
    assert "tests/gitops" not in ours.stdout  # the template's own tests stay in the template


def test_a_change_on_the_lines_the_upgrade_changes_is_a_named_conflict_and_no_commit(world: dict) -> None:
    fork = use_this_template(world["moved"], world["root"] / "conflicting", "v1.0.0")
    make(fork, "init-project", f"FROM={world['moved']}")
    edit(fork / CI, "    timeout-minutes: 30\n", "    timeout-minutes: 40\n")
    run(["git", "commit", "-qam", "A longer test job"], fork)
    before = git(fork, "rev-parse", "HEAD").strip()

    result = make(fork, "upgrade", "TO=v1.1.0", check=False)
    assert result.returncode != 0
    assert f"conflicts with your changes in {CI}" in result.stderr
    assert git(fork, "rev-parse", "HEAD").strip() == before
    assert "<<<<<<< " in (fork / CI).read_text()
    assert f"UU {CI}" in git(fork, "status", "--porcelain").splitlines()  # an ordinary git conflict
    assert GATE_V11 in (fork / GATE).read_text()  # the rest of the upgrade waits in the working tree


def test_the_conformance_kit_fails_a_team_change_that_breaks_the_engines_interface(world: dict) -> None:
    fork = use_this_template(world["moved"], world["root"] / "broken", "v1.1.0")
    make(fork, "init-project", f"FROM={world['moved']}")
    edit(fork / "src/gitops_ml/pipeline/interface.py",  # a binary score as two columns: the engine wants one
         "return full[:, 1] if schema.task is Task.BINARY else full", "return full")  # fmt: skip
    env = fork_env(fork) | {"PYTHONPATH": str(fork / "src")}
    result = subprocess.run(
        [*MAKE, "pytest", "PYTEST_ARGS=tests/conformance -p no:cacheprovider"], cwd=fork, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "score_frame's shape is (" in result.stdout, result.stdout[-4000:]
