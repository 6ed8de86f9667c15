"""Recording a release: the next ``model-vN`` tag, its release notes and model card, the MLflow alias.

``promote`` acts only on a ``reports/gate.json`` that says ``release: true`` for the commit checked out, uses the
tag the gate decided, does nothing when HEAD already carries it, and refuses when a newer release exists, so
rerunning a release run finishes it and rerunning an old one publishes nothing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml.config import Params, ProjectParams
from gitops_ml.errors import ReleaseError
from gitops_ml.gitops.champion import next_release_tag, release_tags, tag_number
from gitops_ml.gitops.gate_report import GateReport
from gitops_ml.gitops.markdown import code_span
from gitops_ml.model_metrics import all_metric_names
from gitops_ml.vcs import commit_of, git, github_push_env, head_commit, head_or_unknown

DEFAULT_IDENTITY = {"GIT_COMMITTER_NAME": "gitops-ml", "GIT_COMMITTER_EMAIL": "gitops-ml@users.noreply.github.com"}


@dataclass(frozen=True)
class Promotion:
    """The outcome of :func:`promote`: the release tag and whether this call created it."""

    tag: str
    created: bool


def _git_env(repo: Path) -> dict[str, str]:
    """The environment for ``git tag -a``: a fallback committer identity when none is configured (CI)."""
    env = dict(os.environ)
    if git("var", "GIT_COMMITTER_IDENT", cwd=repo).returncode != 0:
        env |= DEFAULT_IDENTITY
    return env


def tag_message(gate: GateReport, tag: str) -> str:
    """Annotation of the release tag: the primary change and the candidate's metrics."""
    shown = ", ".join(f"{k}={v:.4f}" for k, v in gate.candidate.items() if v is not None)
    return f"{tag}\n\nReleased by the gate for {gate.commit}.\nMetrics: {shown}\n"


def approved_tag(repo: Path, gate: GateReport) -> str:
    """The tag ``gate`` (reports/gate.json) released HEAD as; :class:`ReleaseError` when it did not release HEAD."""
    if not gate.release:
        reasons = "; ".join(gate.failures()) or "no reasons given"
        raise ReleaseError(f"reports/gate.json says no release, so nothing is promoted ({reasons})")
    head = head_commit(repo)
    if gate.commit != head:
        raise ReleaseError(
            f"reports/gate.json was written for commit {gate.commit}, but HEAD is {head}; "
            "run `make gate` on this commit first"
        )
    tag = gate.tag or ""
    if tag_number(tag) is None:
        raise ReleaseError(f"reports/gate.json names no release tag (tag: {tag!r}); run `make gate` again")
    return tag


def tag_is_done(repo: Path, tag: str) -> bool:
    """Whether release ``tag`` of HEAD is already recorded (True) or still free and next in line (False).

    Raises :class:`ReleaseError` when the run is out of date: ``tag`` marks another commit, or a newer release
    exists. That is what makes a rerun of an old release run publish nothing, while a rerun of the same run
    (HEAD already carries ``tag``) may finish the steps after the tag.
    """
    head = head_commit(repo)
    number = tag_number(tag)
    if number is None:
        raise ReleaseError(f"{tag!r} is not a release tag (model-vN)")
    existing = release_tags(repo)
    if tag in existing:
        marked = commit_of(repo, tag) or "(none: not a commit)"
        if marked == head:
            return True
        raise ReleaseError(
            f"{tag} already marks commit {marked[:12]}, not {head[:12]}: this release run is out of date and "
            "publishes nothing"
        )
    newer = [t for t in existing if (tag_number(t) or 0) > number]
    if newer:
        raise ReleaseError(
            f"a newer release {newer[-1]} exists, so this run for {tag} ({head[:12]}) is out of date and publishes "
            "nothing"
        )
    expected = next_release_tag(repo)
    if tag != expected:
        raise ReleaseError(f"{tag} is not the next release tag ({expected} is); run the release gate again")
    return False


def promote(repo: Path, gate: GateReport, say: Callable[[str], None] = print) -> Promotion:
    """Tag HEAD with the tag the gate decided, when ``gate`` (reports/gate.json) says release; refuse otherwise.

    Idempotent: when HEAD already carries that tag nothing is created. Refuses when a newer release exists.
    """
    tag = approved_tag(repo, gate)
    head = head_commit(repo)
    if tag_is_done(repo, tag):
        say(f"{head[:12]} is already released as {tag}; nothing to do")
        return Promotion(tag=tag, created=False)
    made = git("tag", "-a", tag, "-m", tag_message(gate, tag), "HEAD", cwd=repo, env=_git_env(repo))
    if made.returncode != 0:
        raise ReleaseError(f"`git tag {tag}` failed: {made.stderr.strip()}")
    say(f"tagged {head[:12]} as {tag}")
    return Promotion(tag=tag, created=True)


def push_tag(repo: Path, tag: str, remote: str = "origin", token: str | None = None) -> None:
    """Push ``tag`` to ``remote``; with ``token`` (GitHub), authenticate by header, never in the URL or argv."""
    if tag_number(tag) is None:
        raise ReleaseError(f"{tag!r} is not a release tag (model-vN)")
    pushed = git("push", remote, f"refs/tags/{tag}:refs/tags/{tag}", cwd=repo, env=github_push_env(token))
    if pushed.returncode != 0:
        raise ReleaseError(f"pushing {tag} to {remote} failed: {pushed.stderr.strip()}")


def _value(value: Any) -> str:
    return "n/a" if not isinstance(value, int | float) or isinstance(value, bool) else f"{value:.4f}"


def metrics_table(gate: GateReport) -> str:
    """Markdown table of the candidate's and the champion's metrics on the same test set."""
    cand, champ = gate.candidate, gate.champion
    champ_name = gate.champion_tag or "champion"
    lines = [
        f"| metric | candidate | {champ_name} |" if champ is not None else "| metric | candidate |",
        "|---|---:|---:|" if champ is not None else "|---|---:|",
    ]
    for name in all_metric_names():
        if name not in cand:
            continue
        row = f"| {name} | {_value(cand.get(name))} |"
        if champ is not None:
            row += f" {_value(champ.get(name))} |"
        lines.append(row)
    return "\n".join(lines)


def _stated(text: str, key: str) -> str:
    return " ".join(text.split()) or f"not stated (set `project.{key}` in params.yaml)"


def release_notes(
    tag: str,
    gate: GateReport,
    model_info: Mapping[str, Any] | None = None,
    project: ProjectParams | None = None,
) -> str:
    """Markdown for the GitHub Release of ``tag``: gate verdict, reasons, metrics and the model card.

    ``project`` (``project:`` in params.yaml) gives the card its name, classes, intended use, limitations and owner.
    """
    info = model_info or {}
    project = project or ProjectParams()
    verdict = "released" if gate.release else "not released"
    champion = gate.champion_tag
    changes = gate.contract_changes
    if champion and changes:
        against = f"as a new model line (the data contract changed since **{champion}**, so on the floors only)"
    elif champion:
        against = f"against the previous release **{champion}**"
    else:
        against = "as the first release"
    rules = gate.rules
    parts = [
        f"# {tag}",
        "",
        f"Model **{verdict}** by the gate for commit `{gate.commit}`, judged {against} "
        f"on the same test set ({'n/a' if gate.test_rows is None else gate.test_rows} rows).",
        "",
        "## Gate",
        "",
        *[f"- {reason}" for reason in gate.reasons],
        "",
        *(["## Data contract changes", "", *[f"- {change}" for change in changes], ""] if changes else []),
        "## Metrics",
        "",
        metrics_table(gate),
        "",
        "## Model card",
        "",
        f"- Model: {code_span(project.name)}",
        f"- Intended use: {_stated(project.intended_use, 'intended_use')}",
        f"- Limitations: {_stated(project.limitations, 'limitations')}",
        f"- Owner: {_stated(project.owner, 'owner')}",
        f"- Classes: positive `{project.positive_label}`, negative `{project.negative_label}`",
        f"- Estimator: {code_span(str(info.get('estimator', 'unknown')))}",
        f"- Hyperparameters: {code_span(str(info.get('hyperparameters', {})))}",
        f"- Features: {', '.join(code_span(str(f)) for f in info.get('features', [])) or 'unknown'}",
        f"- Target: {code_span(str(info.get('target', 'unknown')))}",
        f"- Training rows: {info.get('train_rows', 'unknown')}",
        f"- scikit-learn: {info.get('sklearn_version', 'unknown')}",
        f"- Model file md5 (DVC): `{gate.candidate_md5 or 'unknown'}`",
        f"- Primary metric: `{rules.primary_metric}`, minimal improvement {rules.min_improvement}",
        "",
        "Trained on the data tracked by `data.dvc` at this commit; its metrics hold only for data like it.",
        "",
    ]
    return "\n".join(parts)


def set_champion(
    params: Params, uri: str, tag: str, model_path: Path | Callable[[], Path], test_path: Path, alias: bool = True
) -> str:
    """Register ``model_path`` as a version of the MLflow model ``tracking.experiment``, alias it ``champion``
    (unless ``alias`` is False: registered only).

    Idempotent: a version already tagged ``release_tag=<tag>`` is reused instead of registering a new one, and
    then ``model_path`` and ``test_path`` are not read (``model_path`` may be a function that makes the file, called
    only when the version must be registered).
    Returns the model version now behind the alias. Errors become :class:`~gitops_ml.tracking.TrackingError`.
    """
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    from gitops_ml.errors import TrackingError
    from gitops_ml.model_io import TRUSTED_TYPES, load_model
    from gitops_ml.pipeline.interface import model_frame
    from gitops_ml.tracking import check_reachable

    check_reachable(uri)
    name = params.tracking.experiment
    try:
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(tracking_uri=uri)
        existing = [v for v in client.search_model_versions(f"name='{name}'") if v.tags.get("release_tag") == tag]
        if existing:
            version = str(existing[0].version)
        else:
            model = load_model(model_path if isinstance(model_path, Path) else model_path())
            example = model_frame(pd.read_parquet(test_path).head(5), params.schema)
            mlflow.set_experiment(params.tracking.experiment)
            with mlflow.start_run(run_name=f"release {tag}"):
                mlflow.set_tags({"release_tag": tag, "git_commit": head_or_unknown(), "stage": "release"})
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    serialization_format="skops",
                    skops_trusted_types=list(TRUSTED_TYPES),
                    input_example=example,
                    registered_model_name=name,
                )
            version = str(info.registered_model_version)
            client.set_model_version_tag(name, version, "release_tag", tag)
        if alias:
            client.set_registered_model_alias(name, "champion", version)
        return version
    except TrackingError:
        raise
    except Exception as exc:  # MLflow raises many transport and store error types
        raise TrackingError(f"MLflow at {uri} refused to set the champion alias: {exc}") from exc


IMAGE_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


def image_name(registry: str, repository: str) -> str:
    """``<registry>/<owner>/<repo>`` in lowercase (container registries refuse upper case); validated."""
    registry, repository = registry.strip().rstrip("/").lower(), repository.strip().strip("/").lower()
    if not registry or not re.fullmatch(r"[a-z0-9.-]+(:[0-9]+)?", registry):
        raise ReleaseError(f"registry {registry!r} is not a host name; set IMAGE_REGISTRY (e.g. ghcr.io)")
    if not IMAGE_PART.match(repository) or "/" not in repository:
        raise ReleaseError(f"repository {repository!r} is not owner/name; set GITHUB_REPOSITORY or --repository")
    return f"{registry}/{repository}"


def smoke_check(url: str, params: Params, expect_version: str | None, timeout: float) -> str:
    """``/readyz`` 200 within ``timeout`` seconds, then one valid ``/predict`` answer; raise :class:`ReleaseError`."""
    import httpx

    from gitops_ml.serving.schema import describe_answer, example_record

    base = url.rstrip("/")
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            ready = httpx.get(f"{base}/readyz", timeout=5)
            if ready.status_code == 200:
                break
            last = f"HTTP {ready.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if time.monotonic() > deadline:
            raise ReleaseError(f"{base}/readyz did not answer 200 within {timeout:.0f}s (last: {last})")
        time.sleep(1)
    answer = httpx.post(f"{base}/predict", json={"records": [example_record(params.schema)]}, timeout=30)
    if answer.status_code != 200:
        raise ReleaseError(f"POST {base}/predict answered HTTP {answer.status_code}: {answer.text[:300]}")
    try:
        body = answer.json()
        summary = describe_answer(params.schema, body)  # the answer of the project's task, one prediction
    except ValueError as exc:  # not JSON, or not this task's answer
        raise ReleaseError(f"POST {base}/predict gave an unexpected answer ({exc}): {answer.text[:300]}") from None
    if expect_version and body.get("model_version") != expect_version:
        raise ReleaseError(f"the service runs model {body.get('model_version')!r}, expected {expect_version!r}")
    return f"{body.get('model_version')}: {summary}"
