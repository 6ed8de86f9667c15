"""Hashes of a project's files, to prove that a refused command wrote nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` outside ``.git``, and of git's index."""
    files = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts[:1]]
    files.append(root / ".git" / "index")
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
