"""Building the bento and exporting its container build context (what `make bento` and the release use).

The bento is built from ``bentofile.yaml`` with ``src/`` as the build context, versioned with the model version
and labelled with the model's card (version, commit, data hash, metrics). The model tag is recorded as the
``model_tag`` bento argument, so serving the bento always serves the model it was built with.

No container engine is needed here: :func:`export_context` writes the directory ``bentoml containerize`` would
hand to Docker (the bento, its models and ``env/docker/Dockerfile``, which runs as a non-root user), so the
release workflow, or a reviewer, can build or inspect it anywhere.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from gitops_ml.serving.store import import_model, model_version, read_card

BENTOFILE = Path("bentofile.yaml")
BUILD_CONTEXT = Path("src")
BENTO_TAG_FILE = Path("reports/bento_tag.txt")


def build_bento(root: Path | str = ".", version: str | None = None) -> str:
    """Import the current model and build the bento ``<name>:<model version>``; return the bento tag.

    A bento with the same tag is replaced. The tag is also written to ``reports/bento_tag.txt``.
    """
    import bentoml

    from gitops_ml.io import atomic_write

    root = Path(root).resolve()
    resolved = model_version(root, version)
    model_tag = import_model(root, resolved)
    card = read_card(root, resolved)
    bentofile = root / BENTOFILE
    if not bentofile.exists():
        raise FileNotFoundError(f"{bentofile}: missing; the service's build file belongs at the repository root")
    name = _bento_name(bentofile)
    with contextlib.suppress(bentoml.exceptions.NotFound):
        bentoml.bentos.delete(f"{name}:{resolved}")
    bento = bentoml.bentos.build_bentofile(
        str(bentofile),
        version=resolved,
        build_ctx=str(root / BUILD_CONTEXT),
        labels=card.labels(),
        args={"model_tag": model_tag},
    )
    tag = str(bento.tag)
    with atomic_write(root / BENTO_TAG_FILE) as tmp:
        tmp.write_text(tag + "\n", encoding="utf-8")
    return tag


def _bento_name(bentofile: Path) -> str:
    import yaml

    data = yaml.safe_load(bentofile.read_text(encoding="utf-8")) or {}
    name = data.get("name")
    if not name:
        raise ValueError(f"{bentofile}: set 'name:' (the bento's name)")
    return str(name)


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
