"""The model's way into the BentoML model store, and back out of it.

:func:`import_model` copies the pipeline's output (``models/model.skops``) into the store together with the
``params.yaml`` it was trained with, labelled with the model version, git commit, data hash and metrics. The
service later reads both files from the store entry (inside the bento, so a container is self-contained) and
loads the model with :func:`gitops_ml.model_io.load_model`: skops with an explicit list of trusted types, never
pickle or joblib. Only a model that passes that check is imported in the first place.

Model version: the ``model-vN`` tag on HEAD (set by the release gate), else ``dev-<short commit>``, else ``dev``;
``MODEL_VERSION`` overrides it. BentoML versions allow only letters, digits, ``-``, ``_`` and ``.`` (at most 63,
starting and ending alphanumeric), so :func:`sanitize_version` maps anything else to ``-``.

The project keeps its store in ``.bentoml/`` in the project directory (the Makefile sets ``BENTOML_HOME``); BentoML
on its own looks in ``$BENTOML_HOME``, else ``~/bentoml``. :func:`missing_model_message` names both.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml import paths
from gitops_ml.config import DEFAULT_PARAMS_PATH, Params, load_params
from gitops_ml.errors import ModelStoreError
from gitops_ml.io import read_json
from gitops_ml.model_io import load_model
from gitops_ml.vcs import git, head_or_unknown, short_head

MODEL_NAME = "gitops-ml-classifier"
"""Name of the model in the BentoML model store (the service packs ``MODEL_NAME:latest`` at build time)."""
MODEL_FILE = "model.skops"
PARAMS_FILE = "params.yaml"
TAG_PART_MAX = 63
PROJECT_HOME = Path(".bentoml")
"""The project's BentoML home (model store and bentos), in the project directory: the Makefile's ``BENTOML_HOME``."""
PROJECT_MARKER = "bentofile.yaml"


def sanitize_version(raw: str) -> str:
    """``raw`` made into a valid BentoML tag version: lowercase, ``[a-z0-9._-]``, alphanumeric at both ends."""
    text = re.sub(r"[^a-z0-9._-]+", "-", raw.strip().lower())
    text = text[:TAG_PART_MAX].strip("-._")
    if not text:
        raise ModelStoreError(f"model version {raw!r} has no letters or digits; pass e.g. MODEL_VERSION=model-v3")
    return text


def model_version(cwd: Path | str = ".", override: str | None = None) -> str:
    """The model version: ``override``, else the ``model-v*`` tag on HEAD, else ``dev-<short sha>`` (sanitized)."""
    if override:
        return sanitize_version(override)
    described = git("describe", "--tags", "--match", "model-v*", "--exact-match", cwd=cwd)
    tag = described.stdout.strip() if described.returncode == 0 else ""
    if tag:
        return sanitize_version(tag)
    short = short_head(cwd)
    return sanitize_version(f"dev-{short}" if short else "dev")


@dataclass(frozen=True)
class ModelCard:
    """What the store's labels say about a model: where it came from and how well it scored."""

    version: str
    git_commit: str
    data_md5: str
    metrics: dict[str, float]

    def labels(self) -> dict[str, str]:
        """Flat string labels for the model store and the bento (metrics rounded to 6 digits)."""
        labels = {"model_version": self.version, "git_commit": self.git_commit, "data_md5": self.data_md5}
        labels |= {f"metric_{name}": f"{value:.6g}" for name, value in sorted(self.metrics.items())}
        return labels


def read_card(root: Path, version: str) -> ModelCard:
    """Gather the labels of the pipeline's current model in ``root`` (needs ``dvc repro`` to have run)."""
    for needed in (paths.DATA_SUMMARY, paths.METRICS):
        if not (root / needed).exists():
            raise FileNotFoundError(f"{root / needed}: missing; run `dvc repro` (or `make repro`) first")
    summary = read_json(root / paths.DATA_SUMMARY)
    raw_metrics: dict[str, Any] = read_json(root / paths.METRICS)
    metrics = {
        name: float(value)
        for name, value in raw_metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and not name.startswith("test_")
    }
    return ModelCard(version=version, git_commit=head_or_unknown(root), data_md5=str(summary["md5"]), metrics=metrics)


def import_model(root: Path | str = ".", version: str | None = None, params_path: Path | str | None = None) -> str:
    """Copy ``models/model.skops`` and ``params.yaml`` of ``root`` into the model store; return the model tag.

    The model must pass the trusted-types check first. An existing entry with the same version is replaced, so
    re-importing a ``dev-<sha>`` after retraining on uncommitted changes serves the new model.
    """
    import bentoml

    root = Path(root)
    params_file = Path(params_path) if params_path else root / DEFAULT_PARAMS_PATH
    load_params(params_file)  # refuse to pack a params file the service could not read
    model_file = root / paths.MODEL
    load_model(model_file)  # raises UntrustedModelError / FileNotFoundError before anything is written
    card = read_card(root, model_version(root, version))
    tag = f"{MODEL_NAME}:{card.version}"
    with contextlib.suppress(bentoml.exceptions.NotFound):
        bentoml.models.delete(tag)
    metadata = {"metrics": card.metrics, "model_info": _model_info(root)}
    with bentoml.models.create(tag, labels=card.labels(), metadata=metadata) as entry:
        shutil.copy2(model_file, Path(entry.path) / MODEL_FILE)
        shutil.copy2(params_file, Path(entry.path) / PARAMS_FILE)
    return tag


def _model_info(root: Path) -> dict[str, Any]:
    info_path = root / paths.MODEL_INFO
    if not info_path.exists():
        return {}
    info = read_json(info_path)
    return {key: info[key] for key in ("estimator", "train_rows", "sklearn_version") if key in info}


def stored_files(model_dir: Path | str) -> tuple[Params, Any]:
    """The params and the model (loaded with the trusted-types check) from a model store entry's directory."""
    model_dir = Path(model_dir)
    return load_params(model_dir / PARAMS_FILE), load_model(model_dir / MODEL_FILE)


def bentoml_home() -> Path:
    """The BentoML home BentoML itself uses: ``$BENTOML_HOME``, else its default ``~/bentoml``."""
    return Path(os.path.expandvars(os.environ.get("BENTOML_HOME", "~/bentoml"))).expanduser().absolute()


def _project_home(cwd: Path) -> Path | None:
    """The ``.bentoml`` of the project ``cwd`` is in (the nearest directory holding ``bentofile.yaml``), or None."""
    for directory in (cwd, *cwd.parents):
        if (directory / PROJECT_MARKER).is_file():
            return directory / PROJECT_HOME
    return None


def _holds(home: Path, name: str, version: str | None) -> bool:
    """Whether the model store of BentoML home ``home`` has model ``name`` (at ``version``, or any version)."""
    entries = home / "models" / name
    if version and version != "latest":
        return (entries / version).is_dir()
    return entries.is_dir() and any(entry.is_dir() for entry in entries.iterdir())


def missing_model_message(name: str, version: str | None, cwd: Path) -> str:
    """Why the service cannot find model ``name:version``: the store BentoML looked in, the project's store (that of
    the project ``cwd`` is in) and how to serve from it (``make serve``, or ``BENTOML_HOME``)."""
    home = bentoml_home()
    how = "$BENTOML_HOME" if "BENTOML_HOME" in os.environ else "BentoML's default: BENTOML_HOME is not set"
    looked = f"model {name}:{version or 'latest'} is not in the BentoML model store {home / 'models'} ({how})"
    serve = "`make serve` (it imports the model into the project's store and serves it)"
    project = _project_home(cwd.absolute())
    if project is None:
        return f"{looked}: in the project directory, run {serve}, or set BENTOML_HOME to a store that holds the model"
    if project.resolve() == home.resolve():
        return f"{looked}, the project's store: run {serve}, or `make import-model` first"
    point = f"`BENTOML_HOME={project} bentoml serve`"
    if _holds(project, name, version):
        return f"{looked}. The project's store {project} holds it: run `make serve`, or point BentoML at it: {point}"
    return f"{looked}, nor in the project's store {project}: run {serve}, or `make import-model`, then {point}"
