"""Small file helpers shared by every stage: atomic writes, JSON in one stable format, fast YAML reading."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place, on error delete it.

    Readers never see a half-written output, and a failing stage leaves the previous output untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def restorable(root: Path, paths: list[Path]) -> Iterator[None]:
    """Put ``paths`` (files, relative to ``root``) back as they were if the block fails: a command that rewrites
    several files leaves all of them or none."""
    saved = {path: (root / path).read_bytes() if (root / path).is_file() else None for path in paths}
    try:
        yield
    except BaseException:
        for path, content in saved.items():
            if content is None:
                (root / path).unlink(missing_ok=True)
            else:
                (root / path).write_bytes(content)
        raise


def dump_json(data: Any) -> str:
    """Serialize ``data`` the one way the project writes JSON: sorted keys, two-space indent, newline."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: Path | str, data: Any) -> Path:
    """Write ``data`` as JSON atomically (see :func:`dump_json`)."""
    text = dump_json(data)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def read_json(path: Path | str) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, with libyaml's C parser when PyYAML has it (about ten times faster: the
    pull-request report reads ``dvc.lock`` and ``params.yaml`` several times)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)
