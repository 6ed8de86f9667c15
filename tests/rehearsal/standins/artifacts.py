"""Stand-ins for actions/upload-artifact and actions/download-artifact: one shared folder per rehearsal.

An artifact is stored as plain files under ``$REHEARSAL_ARTIFACTS/<owner>/<repo>/<run_id>/<attempt>/<name>/``.
Upload follows the real action's rules: ``path`` lines are globs (``!`` excludes), a directory means every file
under it, hidden files are left out unless ``include-hidden-files``, the artifact's root is the least common
ancestor of the search paths (a single named file keeps only its name), ``if-no-files-found`` decides between
error, warning and nothing, and a second upload of a name in the same run attempt is a conflict unless
``overwrite``. Download finds a run's newest attempt of a name; ``run-id`` and ``repository`` are honoured only
with ``github-token``, as the real action only reads them then.

Usage: ``python artifacts.py upload`` or ``python artifacts.py download`` (inputs as ``INPUT_*`` variables).
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import shutil
import sys
from pathlib import Path

from toolkit import fail, get_bool, get_input, get_lines, info, set_output, setting, warning

GLOB_CHARS = set("*?[")


def store(repository: str, run_id: str) -> Path:
    """The folder holding every artifact of one workflow run."""
    return Path(setting("ARTIFACTS")) / repository.lower() / run_id


def search_path(pattern: str) -> Path:
    """The part of ``pattern`` before its first glob segment, as an absolute path."""
    parts = Path(pattern).parts
    fixed = parts[: next((i for i, part in enumerate(parts) if GLOB_CHARS & set(part)), len(parts))]
    return Path(os.path.abspath(Path(*fixed) if fixed else Path.cwd()))


def expand(pattern: str, hidden: bool) -> set[Path]:
    """Files matched by one pattern; directories stand for every file under them."""
    found: set[Path] = set()
    root = search_path(pattern)
    for match in glob.glob(pattern, recursive=True, include_hidden=hidden):
        path = Path(os.path.abspath(match))
        candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in candidates:
            relative = file.relative_to(root) if root in file.parents else Path(file.name)
            if hidden or not any(part.startswith(".") for part in relative.parts):
                found.add(file)
    return found


def lowest_common_ancestor(paths: list[Path]) -> Path:
    """The deepest directory that contains every one of ``paths``."""
    return Path(os.path.commonpath([str(p) for p in paths]))


def upload() -> None:
    """Copy the matched files into this run attempt's artifact ``name``."""
    name = get_input("name") or "artifact"
    lines = get_lines("path")
    if not lines:
        fail("Input required and not supplied: path")
    hidden = get_bool("include-hidden-files")
    includes = [line for line in lines if not line.startswith("!")]
    files: set[Path] = set()
    for pattern in includes:
        files |= expand(pattern, hidden)
    for pattern in (line[1:] for line in lines if line.startswith("!")):
        files -= expand(pattern, True)
    if not files:
        message = f"No files were found with the provided path: {chr(10).join(lines)}. No artifacts will be uploaded."
        mode = get_input("if-no-files-found") or "warn"
        if mode == "error":
            fail(message)
        if mode == "warn":
            warning(message)
        else:
            info(message)
        return
    roots = [search_path(p) for p in includes]
    if len(roots) > 1:
        root = lowest_common_ancestor(roots)
    elif len(files) == 1 and roots[0] in files:
        root = roots[0].parent
    else:
        root = roots[0]
    run = store(os.environ["GITHUB_REPOSITORY"], os.environ["GITHUB_RUN_ID"])
    dest = run / os.environ.get("GITHUB_RUN_ATTEMPT", "1") / name
    if dest.exists():
        if not get_bool("overwrite"):
            fail(
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                "an artifact with this name already exists on the workflow run"
            )
        shutil.rmtree(dest)
    digest = hashlib.sha256()
    for file in sorted(files):
        relative = file.relative_to(root)
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target)
        digest.update(str(relative).encode() + b"\0" + file.read_bytes())
    info(f"Uploaded {len(files)} file(s) from {root} as artifact '{name}' of run {os.environ['GITHUB_RUN_ID']}")
    artifact_id = str(int(digest.hexdigest()[:8], 16))
    set_output("artifact-id", artifact_id)
    set_output(
        "artifact-url",
        f"{os.environ['GITHUB_SERVER_URL']}/{os.environ['GITHUB_REPOSITORY']}/actions/runs/"
        f"{os.environ['GITHUB_RUN_ID']}/artifacts/{artifact_id}",
    )
    set_output("artifact-digest", digest.hexdigest())


def newest(run: Path, current_attempt: int | None) -> dict[str, Path]:
    """Each artifact name of a run mapped to its newest attempt's folder (not after ``current_attempt``)."""
    found: dict[str, tuple[int, Path]] = {}
    for attempt_dir in run.iterdir() if run.is_dir() else []:
        attempt = int(attempt_dir.name)
        if current_attempt is not None and attempt > current_attempt:
            continue
        for artifact in attempt_dir.iterdir():
            if artifact.name not in found or found[artifact.name][0] < attempt:
                found[artifact.name] = (attempt, artifact)
    return {name: path for name, (_, path) in found.items()}


def download() -> None:
    """Copy one artifact (``name``) or all of them (optionally filtered by ``pattern``) to ``path``."""
    name, pattern = get_input("name"), get_input("pattern")
    dest = Path(os.path.abspath(os.path.expanduser(get_input("path") or os.environ["GITHUB_WORKSPACE"])))
    repository, run_id = os.environ["GITHUB_REPOSITORY"], os.environ["GITHUB_RUN_ID"]
    attempt: int | None = int(os.environ.get("GITHUB_RUN_ATTEMPT", "1"))
    if get_input("github-token"):
        repository = get_input("repository") or repository
        if "/" not in repository:
            fail(f"Invalid repository: '{repository}'. Must be in format owner/repo")
        if get_input("run-id") and get_input("run-id") != run_id:
            run_id, attempt = get_input("run-id"), None
    artifacts = newest(store(repository, run_id), attempt)
    if name:
        if name not in artifacts:
            fail(f"Artifact '{name}' not found")
        chosen = {name: artifacts[name]}
    else:
        chosen = {n: p for n, p in artifacts.items() if not pattern or fnmatch.fnmatchcase(n, pattern)}
    for artifact, source in sorted(chosen.items()):
        target = dest if name or get_bool("merge-multiple") else dest / artifact
        shutil.copytree(source, target, dirs_exist_ok=True)
        info(f"Downloaded artifact '{artifact}' of {repository} run {run_id} to {target}")
    info(f"Total of {len(chosen)} artifact(s) downloaded")
    set_output("download-path", str(dest))


if __name__ == "__main__":
    {"upload": upload, "download": download}.get(
        sys.argv[1] if len(sys.argv) > 1 else "", lambda: fail("usage: artifacts.py upload|download")
    )()
