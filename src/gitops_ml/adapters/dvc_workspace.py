"""Hashing a DVC-tracked workspace path the way ``dvc add`` would, without writing anything to the cache.

``dvc status`` cannot tell "different" from "not in cache" when the recorded directory manifest is not in the cache
(a fresh clone), and DVC's documented Python API (``dvc.api``) has no function for this, so this adapter computes
the hash with dvc-data's ``dvc_data.hashfile.build.build`` in a dry run (what ``dvc add`` itself calls) and checks
that function first (:func:`check`): a change fails with the installed dvc-data version named (tests/adapters
check it too). It reads the output's location from DVC's ``Repo`` and stage objects, as ``dvc add`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_ml.adapters import broken, private_attribute, require_parameters

DISTRIBUTION = "dvc-data"
MODULE, NAME = "dvc_data.hashfile.build", "build"
PARAMETERS = ("odb", "path", "fs", "name", "ignore", "dry_run")
ADAPTER = "src/gitops_ml/adapters/dvc_workspace.py"


def _build() -> Any:
    build = private_attribute(MODULE, NAME, DISTRIBUTION, ADAPTER)
    require_parameters(build, PARAMETERS, DISTRIBUTION, f"{MODULE}.{NAME}", ADAPTER)
    return build


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless the private API is there with the expected parameters."""
    _build()


def workspace_matches(dvc_file: Path, cwd: Path) -> bool:
    """True when every output of ``dvc_file`` (relative to the DVC repository ``cwd``) hashes to what it records.

    A missing output is not a match. Nothing is written to the DVC cache.
    """
    from dvc.repo import Repo

    build = _build()
    with Repo(str(cwd)) as repo:
        stage = next(s for s in repo.index.stages if Path(s.path).resolve() == (cwd / dvc_file).resolve())
        for out in stage.outs:
            if not out.exists:
                return False
            _, _, obj = build(repo.cache.local, out.fs_path, out.fs, "md5", ignore=out.dvcignore, dry_run=True)
            try:
                actual = obj.hash_info.value
            except AttributeError as exc:
                raise broken(DISTRIBUTION, f"{MODULE}.{NAME}", ADAPTER, f"its object has no hash: {exc}") from None
            if actual != out.hash_info.value:
                return False
    return True
