"""Stand-in for astral-sh/setup-uv: put the project's uv on PATH, after checking it is the version asked for.

No uv can be downloaded here, so the uv the harness provides (``$REHEARSAL_UV``) is linked into a fresh
directory that goes on PATH for the job's later steps. The version the workflow asks for is resolved as the
real action does (``version`` input, else ``version-file``: ``.tool-versions``, ``pyproject.toml`` or
``uv.toml``, else ``required-version`` in the working directory, else the latest release); when a version is
named and differs from the provided uv the step fails, so a rehearsal proves the pin is read. Caching inputs
are accepted and do nothing (nothing is cached or restored).
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

from toolkit import add_path, export_variable, fail, get_bool, get_input, info, set_output, setting, warning


def version_from_file(path: Path) -> str | None:
    """The uv version a version file asks for (None when the file names none)."""
    if not path.is_file():
        fail(f"version-file {path} does not exist")
    if path.name == ".tool-versions":
        for line in path.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2 and words[0] == "uv":
                return words[1]
        return None
    data = tomllib.loads(path.read_text())
    spec = (data.get("tool", {}).get("uv", {}) if path.name == "pyproject.toml" else data).get("required-version")
    return spec.lstrip("=") if spec else None


def wanted_version() -> tuple[str | None, str]:
    """(version, where it came from); version None means "latest"."""
    version = get_input("version")
    if version and version != "latest":
        return version, "the version input"
    workdir = Path(get_input("working-directory") or os.environ["GITHUB_WORKSPACE"])
    if get_input("version-file"):
        path = workdir / get_input("version-file")
        return version_from_file(path), str(get_input("version-file"))
    for name in ("uv.toml", "pyproject.toml"):
        if (workdir / name).is_file() and (found := version_from_file(workdir / name)):
            return found, name
    return None, "no pin (the real action installs the latest uv)"


def main() -> None:
    """Link the provided uv onto PATH and set the action's outputs."""
    uv = Path(setting("UV"))
    provided = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    wanted, source = wanted_version()
    if wanted is None:
        warning(f"setup-uv stand-in: {source}; providing uv {provided}")
    elif not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", wanted):
        fail(f"setup-uv stand-in: only an exact uv version can be checked here, got {wanted!r} from {source}")
    elif wanted != provided:
        fail(f"uv {wanted} requested by {source}, but the rehearsal provides uv {provided} (.tools/bin/uv)")
    else:
        info(f"uv {wanted} requested by {source}: provided")
    if get_bool("activate-environment"):
        fail("setup-uv stand-in: activate-environment is not supported by the rehearsal")
    bindir = Path(os.environ["RUNNER_TEMP"]) / "setup-uv" / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for tool in ("uv", "uvx"):
        source_tool = uv.with_name(tool)
        if source_tool.exists() and not (bindir / tool).exists():
            (bindir / tool).symlink_to(source_tool)
    add_path(bindir)
    if get_input("python-version"):
        export_variable("UV_PYTHON", get_input("python-version"))
    set_output("uv-version", provided)
    set_output("uv-path", str(bindir / "uv"))
    set_output("uvx-path", str(bindir / "uvx"))
    set_output("cache-hit", "false")


if __name__ == "__main__":
    main()
