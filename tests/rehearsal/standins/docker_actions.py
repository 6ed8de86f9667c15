"""Stand-ins for docker/login-action, docker/build-push-action and actions/attest-build-provenance.

They use the rehearsal's real Docker engine and local registry (``DOCKER_HOST`` and ``$REHEARSAL_REGISTRY`` in
the runner's environment) through Debian's docker client with BuildKit and skopeo:

* ``login``: the registry input must be the local registry (nothing else is reachable) and username and
  password must be non-empty, as the real action requires; then a real ``docker login``.
* ``build-push``: ``docker build --pull=false --network host`` of ``context``/``file``; an ``outputs`` entry
  ``type=image,name=N,push-by-digest=true,push=true`` pushes the image to ``N`` by digest only, leaving no tag
  (the image is copied to an OCI layout with skopeo, then pushed to ``N@<digest>`` with the digest preserved;
  the runner's ``~/.config/containers/registries.conf`` marks the local registry as plain HTTP);
  ``push: true`` with ``tags`` pushes those tags. Outputs ``imageid``, ``digest``, ``metadata``. SBOM and
  provenance attestations cannot be made by this engine (Docker 20.10 without buildx): the inputs are recorded.
* ``attest``: checks the subject (a name and a ``sha256:`` digest that the registry serves when
  ``push-to-registry``) and records it in ``attestations.jsonl`` instead of signing it.

Usage: ``python docker_actions.py login|build-push|attest``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from toolkit import fail, get_bool, get_input, get_lines, info, record, set_output, setting, warning

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def run(*cmd: str, stdin: str | None = None) -> str:
    """Run ``cmd``, echoing it; fail the step with its output when it fails."""
    info(f"[command]{' '.join(cmd)}")
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail(f"{cmd[0]} exited {result.returncode}: {(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def docker(*args: str, stdin: str | None = None) -> str:
    """Debian's docker client (BuildKit) against the rehearsal's engine."""
    return run(setting("DOCKER"), *args, stdin=stdin)


def split_image(name: str) -> tuple[str, str]:
    """(registry host, repository path) of ``host/owner/name``."""
    host, _, path = name.partition("/")
    if not path or ("." not in host and ":" not in host and host != "localhost"):
        fail(f"image name {name!r} does not start with a registry host")
    return host, path


def login() -> None:
    """``docker login`` to the local registry with the workflow's username and password."""
    registry = get_input("registry") or "docker.io"
    local = setting("REGISTRY")
    if registry != local:
        fail(f"the rehearsal has no route to registry {registry!r}; only the local registry {local} is reachable")
    username, password = get_input("username"), get_input("password")
    if not username or not password:
        fail("Username and password required")
    docker("login", "--username", username, "--password-stdin", registry, stdin=password)
    info(f"Login Succeeded ({registry})")


def parse_outputs() -> list[dict[str, str]]:
    """``outputs`` entries (CSV ``key=value`` lists, one per line) as dicts."""
    entries = []
    for line in get_lines("outputs"):
        entry = {}
        for field in line.split(","):
            key, sep, value = field.partition("=")
            if not sep:
                fail(f"outputs entry {line!r}: {field!r} is not key=value")
            entry[key.strip()] = value.strip()
        entries.append(entry)
    return entries


def push_by_digest(image_id: str, name: str) -> str:
    """Push the built image to ``name`` by digest only; return the digest."""
    if ":" in name.rsplit("/", 1)[-1] or "@" in name:
        fail(f"push-by-digest needs a name without tag or digest, got {name!r}")
    split_image(name)
    with tempfile.TemporaryDirectory(dir=os.environ.get("RUNNER_TEMP")) as tmp:
        layout = Path(tmp) / "layout"
        docker("tag", image_id, "rehearsal-build:push")
        try:
            daemon = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")  # skopeo ignores DOCKER_HOST
            run("skopeo", "copy", "--quiet", "--src-daemon-host", daemon, "docker-daemon:rehearsal-build:push",
                f"oci:{layout}:image")  # fmt: skip
        finally:
            docker("rmi", "rehearsal-build:push")
        index = json.loads((layout / "index.json").read_text())
        digest = index["manifests"][0]["digest"]
        run("skopeo", "copy", "--quiet", "--preserve-digests", f"oci:{layout}:image", f"docker://{name}@{digest}")
    info(f"pushed {name}@{digest} (by digest, no tag)")
    return digest


def pushed_digest(tag: str) -> str:
    """The registry's digest of ``tag`` (after ``docker push``)."""
    out = docker("image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", tag)
    repository = tag.rsplit(":", 1)[0]
    found = [line.split("@", 1)[1] for line in out.split() if line.startswith(f"{repository}@")]
    if not found:
        fail(f"docker push {tag} left no digest for {repository}")
    return found[0]


def build_push() -> None:
    """Build the image, push it as the inputs say, set the outputs."""
    context = get_input("context")
    if not context:
        fail("build-push stand-in: give an explicit context (the git context of the real action is not supported)")
    dockerfile = get_input("file") or str(Path(context) / "Dockerfile")
    args = ["build", "--pull=false", "--network", "host", "-f", dockerfile]
    for build_arg in get_lines("build-args"):
        args += ["--build-arg", build_arg]
    for label in get_lines("labels"):
        args += ["--label", label]
    with tempfile.TemporaryDirectory(dir=os.environ.get("RUNNER_TEMP")) as tmp:
        iidfile = Path(tmp) / "iid"
        docker(*args, "--iidfile", str(iidfile), context)
        image_id = iidfile.read_text().strip()
    outputs, tags, push = parse_outputs(), get_lines("tags"), get_bool("push")
    digest, pushed = "", []
    for entry in outputs:
        if entry.get("type") not in ("image", "registry"):
            fail(f"build-push stand-in: output type {entry.get('type')!r} is not supported")
        if entry.get("push", "true" if entry["type"] == "registry" else "false") != "true":
            continue
        if entry.get("push-by-digest") == "true":
            digest = push_by_digest(image_id, entry.get("name", ""))
            pushed.append(f"{entry['name']}@{digest}")
        else:
            fail("build-push stand-in: only push-by-digest image outputs are supported")
    if push:
        if not tags:
            fail("ERROR: tag is needed when pushing to registry")
        for tag in tags:
            docker("tag", image_id, tag)
            docker("push", tag)
            digest = digest or pushed_digest(tag)
            pushed.append(tag)
    if get_input("sbom") or get_input("provenance"):
        warning("build-push stand-in: SBOM/provenance attestations are not produced by this engine (recorded only)")
    record(
        "builds",
        {"context": context, "file": dockerfile, "image_id": image_id, "digest": digest, "pushed": pushed,
         "tags": tags, "sbom": get_input("sbom"), "provenance": get_input("provenance")},
    )  # fmt: skip
    set_output("imageid", image_id)
    set_output("digest", digest)
    set_output("metadata", json.dumps({"containerimage.digest": digest, "image.name": ",".join(pushed)}))


def registry_has(name: str, digest: str) -> bool:
    """Whether the (plain HTTP) registry serves manifest ``digest`` of ``name``."""
    host, path = split_image(name)
    request = urllib.request.Request(
        f"http://{host}/v2/{path}/manifests/{digest}", method="HEAD", headers={"Accept": MANIFEST_TYPES}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status == 200
    except urllib.error.HTTPError:
        return False


def attest() -> None:
    """Check the subject and record the attestation the real action would sign and store."""
    name, digest = get_input("subject-name"), get_input("subject-digest")
    if get_input("subject-path") or get_input("subject-checksums"):
        fail("attest stand-in: only subject-name + subject-digest subjects are supported")
    if not name or not digest:
        fail("One of subject-path, subject-digest, or subject-checksums must be provided")
    if not DIGEST.fullmatch(digest):
        fail(f'subject-digest must be in the format "sha256:<hex-digest>", got {digest!r}')
    push = get_bool("push-to-registry")
    if push and not registry_has(name, digest):
        fail(f"{name}@{digest} is not in the registry: the attestation cannot be pushed next to it")
    record("attestations", {"subject_name": name, "subject_digest": digest, "push_to_registry": push})
    bundle = Path(os.environ["RUNNER_TEMP"]) / "attestation.json"
    bundle.write_text(json.dumps({"subject": [{"name": name, "digest": {"sha256": digest.split(":", 1)[1]}}]}))
    set_output("bundle-path", str(bundle))
    set_output("attestation-id", digest.split(":", 1)[1][:16])
    set_output("attestation-url", f"{os.environ['GITHUB_SERVER_URL']}/{os.environ['GITHUB_REPOSITORY']}/attestations")
    info(f"attested {name}@{digest}")


if __name__ == "__main__":
    commands = {"login": login, "build-push": build_push, "attest": attest}
    commands.get(
        sys.argv[1] if len(sys.argv) > 1 else "", lambda: fail(f"usage: docker_actions.py {'|'.join(commands)}")
    )()
