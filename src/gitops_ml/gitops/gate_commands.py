"""CLI commands of the release: ``gitops-ml gate``, ``promote``, ``release-notes``, ``set-champion-alias``.

``gate`` scores the candidate (``models/model.skops``) and the champion (the release production runs, as
``deploy/overlays/production`` declares it; before the first production deployment the newest ``model-vN`` tag)
on the same current test set, applies :func:`gitops_ml.gitops.gate.decide` and writes ``reports/gate.json``.
It exits 0 whether or not the model is released (the decision is data); in GitHub Actions it also writes
``release=true|false`` and ``tag=model-vN`` to ``$GITHUB_OUTPUT`` and the reasons to the job summary.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer

from gitops_ml import paths
from gitops_ml.cli_support import ParamsOption, console, out, say
from gitops_ml.config import Params, load_params
from gitops_ml.errors import ChampionError, ReleaseError
from gitops_ml.gitops.champion import champion_tag as find_champion_tag
from gitops_ml.gitops.champion import deployed_release, latest_release_tag, materialise, next_release_tag, tags_at
from gitops_ml.gitops.contract import changes_since
from gitops_ml.gitops.gate import FAILED, decide, refuse, signed_lower_bound
from gitops_ml.gitops.gate_report import GateFacts, GateReport, read_gate_report, write_gate_report
from gitops_ml.gitops.lockfile import FIX as LOCK_FIX
from gitops_ml.gitops.lockfile import require_current_lock, stale_stages
from gitops_ml.gitops.release import approved_tag, push_tag, tag_is_done
from gitops_ml.gitops.release import promote as promote_head
from gitops_ml.gitops.release import release_notes as render_release_notes
from gitops_ml.io import atomic_write, read_json
from gitops_ml.values import finite_or_none
from gitops_ml.vcs import append_step_summary, file_md5, head_commit, is_ancestor, write_github_outputs

GATE_JSON = paths.REPORTS / "gate.json"
RELEASE_NOTES = paths.REPORTS / "release_notes.md"


@dataclass(frozen=True)
class Scores:
    """Both models' metrics on the current test set, and the bootstrap lower bound of the improvement."""

    candidate: dict[str, float | None]
    champion: dict[str, float | None] | None
    lower_bound: float | None
    test_rows: int


def score_models(params: Params, candidate: Path, champion: Path | None) -> Scores:
    """Metrics of both models on the current test set and the bootstrap lower bound of the improvement."""
    import pandas as pd

    from gitops_ml.model_io import load_model
    from gitops_ml.model_metrics import Outcome, bootstrap_metrics, compute_metrics, confidence_intervals
    from gitops_ml.pipeline.interface import score_frame

    test = pd.read_parquet(paths.TEST)
    schema, threshold = params.schema, params.evaluate.threshold
    y_true = test[schema.target].to_numpy()

    def outcome(model: Path) -> Outcome:
        return Outcome.of(schema.task, y_true, score_frame(load_model(model), test, schema), threshold)

    cand_outcome = outcome(candidate)
    cand = {k: finite_or_none(v) for k, v in compute_metrics(cand_outcome).items()}
    if champion is None:
        return Scores(candidate=cand, champion=None, lower_bound=None, test_rows=len(test))
    champ_outcome = outcome(champion)
    champ = {k: finite_or_none(v) for k, v in compute_metrics(champ_outcome).items()}
    boot = params.evaluate.bootstrap
    diffs = bootstrap_metrics(cand_outcome, boot.n_resamples, boot.seed, other=champ_outcome)
    primary = params.gate.primary_metric
    bounds = confidence_intervals(diffs, boot.confidence).get(primary, {})
    lower = signed_lower_bound(primary, bounds.get("low"), bounds.get("high"))
    return Scores(candidate=cand, champion=champ, lower_bound=lower, test_rows=len(test))


def run_gate(repo: Path, params: Params) -> GateReport:
    """Decide whether the candidate releases; return the content of ``reports/gate.json``."""
    commit = head_commit(repo)
    newest = latest_release_tag(repo)
    try:
        champion_tag = find_champion_tag(repo)
    except ChampionError as exc:
        return GateReport.of(refuse(str(exc)), GateFacts(commit=commit, rules=params.gate, champion_tag=None))
    facts = GateFacts(commit=commit, rules=params.gate, champion_tag=champion_tag)
    if newest and not is_ancestor(repo, f"refs/tags/{newest}", commit):
        return GateReport.of(
            refuse(
                f"the newest release {newest} is not in the history of {commit[:12]}: this run is for an "
                "older commit and publishes nothing"
            ),
            facts,
        )
    for needed, what in ((paths.MODEL, "candidate model"), (paths.TEST, "test set")):
        if not (repo / needed).is_file():
            return GateReport.of(refuse(f"no {what} at {needed}; run `dvc repro` (or `make repro`) first"), facts)
    facts.candidate_md5 = file_md5(repo / paths.MODEL)
    stale = stale_stages(repo)
    if stale:
        return GateReport.of(
            refuse(
                f"dvc.lock at HEAD does not record how the outputs were made (stale stages: {', '.join(stale)}): "
                f"{LOCK_FIX}, so that the release tag can reproduce its model"
            ),
            facts,
        )
    changes = changes_since(repo, champion_tag, params.schema) if champion_tag else []
    facts.contract_changes = changes
    new_line = f"new model line: the data contract changed since {champion_tag} ({'; '.join(changes)})"
    with tempfile.TemporaryDirectory(prefix="gate-") as tmp:
        champion_path: Path | None = None
        if champion_tag and not changes:
            try:
                found = materialise(repo, champion_tag, Path(tmp) / "champion.skops", say=say)
            except ChampionError as exc:
                return GateReport.of(refuse(f"champion {champion_tag} unavailable: {exc}"), facts)
            champion_path, facts.champion_source = found.path, found.source
        try:
            scored = score_models(params, repo / paths.MODEL, champion_path)
        except Exception as exc:  # a model that loads but cannot score this test set must block, not crash
            return GateReport.of(refuse(f"scoring failed ({type(exc).__name__}: {exc}); no release"), facts)
    decision = decide(scored.candidate, scored.champion, params.gate, scored.lower_bound, new_line if changes else None)
    facts.improvement_lower_bound, facts.test_rows = scored.lower_bound, scored.test_rows
    released_as = tags_at(repo, "HEAD")
    if released_as:  # a rerun of the release workflow for a commit already released publishes nothing
        already = f"{FAILED}: commit {commit[:12]} is already released as {released_as[-1]}; nothing new to publish"
        decision = replace(decision, release=False, reasons=[already, *decision.reasons])
    if decision.release:
        facts.tag = next_release_tag(repo)
    return GateReport.of(decision, facts)


def _github_outputs(gate: GateReport) -> None:
    """In GitHub Actions: step outputs ``release``, ``tag`` and ``commit``, and the reasons in the job summary."""
    write_github_outputs({"release": "true" if gate.release else "false", "tag": gate.tag or "", "commit": gate.commit})
    verdict = f"releases as **{gate.tag}**" if gate.release else "does **not** release"
    lines = [f"## Release gate: the candidate {verdict}", "", *[f"- {r}" for r in gate.reasons], ""]
    append_step_summary("\n".join(lines) + "\n")


def gate(
    params_path: ParamsOption = Path("params.yaml"),
    output: Annotated[Path, typer.Option("--out", help="Where to write the decision.")] = GATE_JSON,
) -> None:
    """Release gate: score candidate and champion on the test set, write reports/gate.json (release: bool)."""
    params = load_params(params_path)
    with console.status("scoring the candidate against the champion"):
        result = run_gate(Path.cwd(), params)
    write_gate_report(output, result)
    _github_outputs(result)
    for reason in result.reasons:
        console.print(f"  {reason}", highlight=False, markup=False)
    verdict = f"release as {result.tag}" if result.release else "no release"
    out.print(f"gate: {verdict} (wrote {output})", highlight=False)


def check_lock() -> None:
    """Fail when dvc.lock at HEAD does not record the outputs `dvc repro` just made (the fix: commit dvc.lock)."""
    require_current_lock(Path.cwd())
    out.print("dvc.lock at HEAD records the pipeline outputs", highlight=False)


def release_guard() -> None:
    """Refuse a release run that is not a passing ci run, or a manual run, on the default branch (env)."""
    from gitops_ml.gitops.release_guard import ReleaseTrigger, check_trigger

    out.print(f"release run allowed: {check_trigger(ReleaseTrigger.from_env(os.environ))}", highlight=False)


def release_check(
    gate_path: Annotated[Path, typer.Option("--gate", help="The gate decision.")] = GATE_JSON,
) -> None:
    """Before publishing: the gate released HEAD, and its tag is still the next one (or already marks HEAD)."""
    if not gate_path.is_file():
        raise ReleaseError(f"{gate_path} not found; the gate job's `candidate` artifact must be downloaded first")
    repo = Path.cwd()
    tag = approved_tag(repo, read_gate_report(gate_path))
    state = "already recorded; finishing its release" if tag_is_done(repo, tag) else "free and next"
    out.print(f"release {tag} of {head_commit(repo)[:12]}: {state}", highlight=False)


def promote(
    gate_path: Annotated[Path, typer.Option("--gate", help="The gate decision.")] = GATE_JSON,
    push: Annotated[bool, typer.Option(help="Also push the tag (token from $GITHUB_TOKEN if set).")] = False,
    remote: Annotated[str, typer.Option(help="Remote to push the tag to.")] = "origin",
) -> None:
    """Tag HEAD as the next model-vN when reports/gate.json says release; refuse otherwise; idempotent."""
    if not gate_path.is_file():
        raise ReleaseError(f"{gate_path} not found; run `make gate` first")
    done = promote_head(Path.cwd(), read_gate_report(gate_path), say=say)
    if push:
        push_tag(Path.cwd(), done.tag, remote, os.environ.get("GITHUB_TOKEN"))
        console.print(f"pushed {done.tag} to {remote}")
    out.print(done.tag)


def release_notes(
    tag: Annotated[str | None, typer.Option(help="Release tag [default: the gate's tag, else HEAD's].")] = None,
    gate_path: Annotated[Path, typer.Option("--gate", help="The gate decision.")] = GATE_JSON,
    output: Annotated[Path, typer.Option("--out", help="Markdown to write.")] = RELEASE_NOTES,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Write the GitHub Release body (gate reasons, metrics, model card from project:) to reports/release_notes.md."""
    if not gate_path.is_file():
        raise FileNotFoundError(f"{gate_path} not found; run `make gate` first")
    project = load_params(params_path).project
    gate_report = read_gate_report(gate_path)
    at_head = tags_at(Path.cwd(), "HEAD")
    tag = tag or gate_report.tag or (at_head[-1] if at_head else "unreleased")
    info = read_json(paths.MODEL_INFO) if paths.MODEL_INFO.is_file() else None
    with atomic_write(output) as tmp:
        tmp.write_text(render_release_notes(tag, gate_report, info, project), encoding="utf-8")
    out.print(f"wrote {output} for {tag}")


def set_champion_alias(
    tag: Annotated[str | None, typer.Option(help="Release tag [default: the model-vN tag of HEAD].")] = None,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Register the released model in MLflow and point its `champion` alias at it (http(s) servers only)."""
    from gitops_ml.gitops.release import set_champion
    from gitops_ml.tracking import tracking_uri

    params = load_params(params_path)
    uri = tracking_uri(params)
    if not uri.startswith(("http://", "https://")):
        console.print(f"MLFLOW_TRACKING_URI is not an MLflow server ({uri}); no alias set")
        return
    at_head = tags_at(Path.cwd(), "HEAD")
    tag = tag or (at_head[-1] if at_head else None)
    if tag is None:
        raise ReleaseError("HEAD has no model-vN tag; run `make promote` first or pass --tag")
    production = deployed_release(Path.cwd())
    if production is not None and production != tag:  # the champion rule: the alias follows production
        version = set_champion(params, uri, tag, paths.MODEL, paths.TEST, alias=False)
        out.print(
            f"MLflow model '{params.tracking.experiment}' version {version} registered ({tag}); @champion stays "
            f"on {production}, which production runs (sync-champion moves it after a production merge)"
        )
        return
    version = set_champion(params, uri, tag, paths.MODEL, paths.TEST)
    out.print(f"MLflow model '{params.tracking.experiment}' version {version} is now @champion ({tag})")


def smoke_test(
    url: Annotated[str, typer.Option(help="Base URL of the running service.")] = "http://127.0.0.1:3000",
    expect_version: Annotated[str | None, typer.Option(help="The model_version /predict must report.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for /readyz.")] = 120.0,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Check a running service: /readyz answers 200 within --timeout, and one /predict scores one record."""
    from gitops_ml.gitops.release import smoke_check

    params = load_params(params_path)
    answer = smoke_check(url, params, expect_version, timeout)
    out.print(f"smoke test passed: {answer}", highlight=False)


def image_ref(
    registry: Annotated[str, typer.Option(envvar="IMAGE_REGISTRY", help="Registry host.")] = "ghcr.io",
    repository: Annotated[str, typer.Option(envvar="GITHUB_REPOSITORY", help="owner/name.")] = "",
) -> None:
    """Print the image name `<registry>/<owner>/<repo>` (lowercase); in Actions also write `image=` to outputs."""
    from gitops_ml.gitops.release import image_name

    name = image_name(registry, repository)
    write_github_outputs({"image": name})
    out.print(name, highlight=False)
