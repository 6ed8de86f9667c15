"""Building the bento and exporting its container build context (what `make bento` and the release use).

The bento is built from ``bentofile.yaml`` with ``src/`` as the build context, versioned with the model version
and labelled with the model's card (version, commit, data hash, metrics). The model tag is recorded as the
``model_tag`` bento argument, so serving the bento always serves the model it was built with. Its Python packages
are the bentofile's (the service's own) plus those the model's estimator declares (``train.estimator`` in the
params.yaml stored with the model; ``packages`` in ``pipeline/estimators.py``) and those of the compiled model call
(``model_call.scorer.scorer_packages``: ONNX Runtime and the converters), pinned from ``uv.lock`` for the image's Python
by :mod:`gitops_ml.serving.requirements`: no estimator's or engine's package is listed by hand.

No container engine is needed here: :func:`export_context` writes the directory ``bentoml containerize`` would
hand to Docker (the bento, its models and ``env/docker/Dockerfile``, which runs as a non-root user), so the
release workflow, or a reviewer, can build or inspect it anywhere.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gitops_ml.config import load_params
from gitops_ml.errors import BentoBuildError
from gitops_ml.serving.requirements import LOCK_FILE, estimator_pins, read_lock
from gitops_ml.serving.store import PARAMS_FILE, import_model, model_version, read_card

BENTOFILE = Path("bentofile.yaml")
BUILD_CONTEXT = Path("src")
BENTO_TAG_FILE = Path("reports/bento_tag.txt")


def build_bento(root: Path | str = ".", version: str | None = None) -> str:
    """Import the current model and build the bento ``<project.name>:<model version>``; return the bento tag.

    The name is the project's (``project.name`` in the params.yaml stored with the model, in lower case, as BentoML
    keeps tags), so ``bentoml list`` and the image's labels say whose model it is. A bento with the same tag is
    replaced. The tag is also written to ``reports/bento_tag.txt``.
    """
    import bentoml

    from gitops_ml.io import atomic_write
    from gitops_ml.model_call.scorer import scorer_packages

    root = Path(root).resolve()
    resolved = model_version(root, version)
    model_tag = import_model(root, resolved)
    card = read_card(root, resolved)
    bentofile = root / BENTOFILE
    if not bentofile.exists():
        raise FileNotFoundError(f"{bentofile}: missing; the service's build file belongs at the repository root")
    config = read_bentofile(bentofile)
    model_params = load_params(Path(bentoml.models.get(model_tag).path) / PARAMS_FILE)
    name = config["name"] = model_params.project.name.lower()
    config["labels"] = {**(config.get("labels") or {}), "project": model_params.project.name}
    needed = model_params.train.packages + scorer_packages()
    config["python"]["packages"] = bento_packages(config, root / LOCK_FILE, needed)
    with contextlib.suppress(bentoml.exceptions.NotFound):
        bentoml.bentos.delete(f"{name}:{resolved}")
    with tempfile.TemporaryDirectory(prefix="bentofile-") as tmp:
        built_from = Path(tmp) / BENTOFILE.name
        built_from.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        bento = bentoml.bentos.build_bentofile(
            str(built_from),
            version=resolved,
            build_ctx=str(root / BUILD_CONTEXT),
            labels=card.labels(),
            args={"model_tag": model_tag},
        )
    tag = str(bento.tag)
    with atomic_write(root / BENTO_TAG_FILE) as tmp:
        tmp.write_text(tag + "\n", encoding="utf-8")
    return tag


def bento_packages(bentofile: dict[str, Any], lock_path: Path, estimator_packages: tuple[str, ...]) -> list[str]:
    """The bento's ``python.packages``: the bentofile's, then ``estimator_packages`` and what they pull in, pinned
    to the versions ``uv.lock`` gives the image's Python (``docker.python_version``)."""
    own = [str(line) for line in bentofile["python"].get("packages") or []]
    if not estimator_packages:
        return own
    python_version = str(bentofile["docker"]["python_version"])
    return own + estimator_pins(read_lock(lock_path), python_version, estimator_packages, pinned=own)


def read_bentofile(bentofile: Path) -> dict[str, Any]:
    """The bentofile's settings, refusing one without the keys the build fills in or relies on."""
    data = yaml.safe_load(bentofile.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise BentoBuildError(f"{bentofile}: must be a mapping of BentoML's build settings")
    if "name" in data:
        raise BentoBuildError(
            f"{bentofile}: remove 'name:': the bento is named after the project (project.name in params.yaml)"
        )
    if not isinstance(data.get("python"), dict) or "requirements_txt" in data["python"]:
        raise BentoBuildError(f"{bentofile}: list the service's packages under python.packages (no requirements_txt)")
    if not (data.get("docker") or {}).get("python_version"):
        raise BentoBuildError(f"{bentofile}: set docker.python_version (the image's Python, e.g. '3.11')")
    return data


def export_context(tag: str, out_dir: Path | str) -> Path:
    """Write the container build context of bento ``tag`` (with its models and Dockerfile) to ``out_dir``.

    ``out_dir`` is replaced as a whole, and only once the context is complete. Returns the Dockerfile's path.
    """
    import bentoml

    from gitops_ml.adapters.bentoml_container import build_context

    out_dir = Path(out_dir)
    bento = bentoml.bentos.get(tag)
    staging = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with build_context(bento) as (context_dir, dockerfile):
            shutil.copytree(context_dir, staging)
            relative = dockerfile.resolve().relative_to(context_dir.resolve())
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.replace(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir / relative
