"""BentoML's container build context: the directory ``bentoml containerize`` hands to Docker.

BentoML has no public function that writes that context without building an image, so this adapter calls the
one ``bentoml containerize`` itself uses, ``bentoml._internal.container.construct_containerfile``, and checks it
first (:func:`check`): a change fails with the installed BentoML version named (tests/adapters check it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from gitops_ml.adapters import broken, private_attribute, require_parameters

DISTRIBUTION = "bentoml"
MODULE, NAME = "bentoml._internal.container", "construct_containerfile"
PARAMETERS = ("bento", "enable_buildkit")
ADAPTER = "src/gitops_ml/adapters/bentoml_container.py"


def _construct() -> Any:
    construct = private_attribute(MODULE, NAME, DISTRIBUTION, ADAPTER)
    require_parameters(construct, PARAMETERS, DISTRIBUTION, f"{MODULE}.{NAME}", ADAPTER)
    return construct


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless the private API is there with the expected parameters."""
    _construct()


@contextmanager
def build_context(bento: Any) -> Iterator[tuple[Path, Path]]:
    """The build context of ``bento`` (a ``bentoml.Bento``) in a temporary directory: ``(directory, Dockerfile)``.

    The directory holds the bento, its models and ``env/docker/Dockerfile`` (BuildKit syntax); it is deleted when
    the ``with`` block ends.
    """
    made: AbstractContextManager[tuple[str, str]] = _construct()(bento, enable_buildkit=True)
    with made as answer:
        try:
            context_dir, dockerfile = answer
        except (TypeError, ValueError):
            raise broken(
                DISTRIBUTION, f"{MODULE}.{NAME}", ADAPTER, f"it yielded {answer!r}, not (dir, Dockerfile)"
            ) from None
        yield Path(context_dir), Path(dockerfile)
