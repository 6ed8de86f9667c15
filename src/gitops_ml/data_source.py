"""Making ``data/`` match ``data.dvc``: restore it from the DVC cache, pull it from a remote, or make the sample.

A fresh clone has no data and, by default, an empty local remote. Only while ``data.sample`` is set in params.yaml
(the data is the built-in sample) is the sample regenerated, byte for byte, so its hash equals the one recorded in
``data.dvc``; the generator (``pipeline/sample_data.py``, an optional plug-in) is imported only then. Without
``data.sample``, or when the regenerated sample does not match, the error says how to connect the remote.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from gitops_ml.config import Params
from gitops_ml.errors import DataSourceError


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True, check=False)


def data_is_current(dvc_file: Path, cwd: Path) -> bool:
    """True when the workspace data hashes to what ``dvc_file`` records, whether or not it is cached.

    ``dvc status`` cannot tell "different" from "not in cache" when the recorded directory manifest is not in
    the cache (a fresh clone), so this hashes the workspace the way ``dvc add`` would, without writing
    (:mod:`gitops_ml.adapters.dvc_workspace`).
    """
    from gitops_ml.adapters.dvc_workspace import workspace_matches

    return workspace_matches(dvc_file, cwd)


def _no_remote_has(dvc_file: Path) -> str:
    return (
        f"{dvc_file} records data that no configured DVC remote has, and the DVC cache does not hold it either. "
        f"Connect the remote that holds it (docs/remotes.md) and run `dvc pull` "
        f"(in CI: set the DVC_REMOTE_URL variable). There is no sample to fall back on: data.sample is not set."
    )


def ensure_data(params: Params, dvc_file: Path, cwd: Path, say: Callable[[str], None] = print) -> str:
    """Make the data current; return how: ``current``, ``restored`` (cache), ``pulled`` (remote) or ``generated``.

    ``generated`` (the built-in sample, written again) only when ``data.sample`` is set in params.yaml.
    """
    data_path = cwd / params.data.path
    if data_path.exists():
        if data_is_current(dvc_file, cwd):
            say(f"{params.data.path} matches {dvc_file}")
            return "current"
        raise DataSourceError(
            f"{data_path.parent.name}/ differs from what {dvc_file} records. Keep your change with "
            f"`dvc add {data_path.parent.name}` (then commit {dvc_file}), or discard it with `dvc checkout {dvc_file}`."
        )
    if _dvc("checkout", str(dvc_file), cwd=cwd).returncode == 0 and data_is_current(dvc_file, cwd):
        say(f"restored {params.data.path} from the DVC cache")
        return "restored"
    if _dvc("pull", str(dvc_file), cwd=cwd).returncode == 0 and data_is_current(dvc_file, cwd):
        say(f"pulled {params.data.path} from the DVC remote")
        return "pulled"
    sample = params.data.sample
    if sample is None:  # the team's own data: only the cache or a remote can have it
        raise DataSourceError(_no_remote_has(dvc_file))
    from gitops_ml.pipeline.interface import sample_writer

    write_sample = sample_writer()
    say(f"no DVC remote holds the data: generating the sample ({sample.rows} rows, seed {sample.seed})")
    write_sample(data_path, sample.rows, sample.seed)
    if not data_is_current(dvc_file, cwd):
        data_path.unlink()  # leave nothing behind that the next run would mistake for edited data
        raise DataSourceError(
            f"{dvc_file} records data that no configured DVC remote has, and the built-in sample does not "
            f"match it. Connect the remote that holds it (docs/remotes.md) and run `dvc pull`, "
            f"or track the sample again with `dvc add {Path(params.data.path).parent}`."
        )
    _dvc("commit", "--force", str(dvc_file), cwd=cwd)  # puts the regenerated data in the cache for `dvc push`
    say(f"generated {params.data.path}; its hash matches {dvc_file}")
    return "generated"
