"""A real Docker engine, a local registry and the base image, started by hand for tests (no mocks).

This machine has no running Docker and no registry to pull from; GitHub's runners have both. So a test starts:

* :class:`DockerEngine`: Debian's ``dockerd`` (docker.io 20.10) with its own data root, exec root, pidfile and
  socket under a work dir, without iptables or a bridge network (containers use ``--network host``). The data root
  is kept between runs so image layers are reused; each run starts a fresh daemon and stops it by PID.
  :meth:`DockerEngine.docker` always calls Debian's client ``/usr/bin/docker`` with ``DOCKER_BUILDKIT=1``: the
  other client on this machine (``/usr/local/bin/docker`` 28) has no buildx plugin and would fall back to the
  legacy builder, which rejects the bento Dockerfile's ``RUN --mount``.
* :class:`LocalRegistry`: Debian's ``docker-registry serve`` (distribution 2.8) on ``127.0.0.1:<free port>``,
  plain HTTP. dockerd trusts 127.0.0.0/8 registries over HTTP by default; skopeo needs ``--tls-verify=false``
  (``--src-/--dest-tls-verify=false`` for copy) or a registries.conf, see :func:`registries_conf`.
* :func:`ensure_base_image`: ``python:3.11-slim`` if it can be pulled, else a stand-in with the same name built
  from Debian bookworm (Python 3.11) with debootstrap, cached as a tarball in the work dir.
* :func:`push_by_digest`: push a local image by digest only (no tag in the target repository), as
  docker/build-push-action's ``push-by-digest=true``; returns ``repository@sha256:...``.

Usage::

    with DockerEngine() as engine, LocalRegistry() as registry:
        ensure_base_image(engine)
        engine.docker("build", "--pull=false", "--network", "host", "-f", dockerfile, "-t", "app:build", ctx)
        ref = push_by_digest(engine, "app:build", f"{registry.address}/owner/app")  # <address>/owner/app@sha256:..

Processes are started with ``subprocess`` and stopped by PID; a daemon or registry left behind by a crashed run
is found through its pidfile and stopped before a new one starts. One engine at a time may use a work dir (a lock
file says so); pass another ``workdir`` to run two at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WORKDIR = ROOT / "build" / "image-test"
DOCKER_CLIENT = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
REGISTRY = "/usr/bin/docker-registry"
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Debian releases whose python3 matches an official python:<version>-slim image (same Debian base too).
STAND_IN_SUITES = {"3.11": "bookworm"}


class EngineError(RuntimeError):
    """The engine, the registry or a docker command failed; the message carries the relevant output."""


def progress(message: str) -> None:
    """Say what a long step is doing (stderr; `make image-test` runs pytest with -s so it shows)."""
    print(f"[docker-engine {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class DockerEngine:
    """A private ``dockerd`` for the duration of a ``with`` block.

    Layout under ``workdir``: ``engine/data`` (the data root, kept), ``engine/exec`` (exec root),
    ``engine/docker.sock``, ``engine/dockerd.pid``, ``engine/dockerd.log``, ``engine/client`` (DOCKER_CONFIG).
    """

    def __init__(self, workdir: Path | str = DEFAULT_WORKDIR) -> None:
        self.workdir = Path(workdir).resolve()
        base = self.workdir / "engine"
        self.data_root = base / "data"
        self.exec_root = base / "exec"
        self.socket = base / "docker.sock"
        self.pidfile = base / "dockerd.pid"
        self.log = base / "dockerd.log"
        self.client_config = base / "client"
        self.docker_client = DOCKER_CLIENT
        self._lock_path = base / "engine.lock"
        self._lock: int | None = None
        self._process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        """Variables that point a docker client at this engine (merge them into a subprocess's environment)."""
        return {
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_BUILDKIT": "1",
            "DOCKER_CONFIG": str(self.client_config),
        }

    def docker(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``/usr/bin/docker ARGS`` against this engine; output captured as text; EngineError if it fails."""
        cmd = [DOCKER_CLIENT, *args]
        result = subprocess.run(
            cmd, env=os.environ | self.env(), capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            raise EngineError(
                f"{' '.join(cmd)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-6000:]}"
            )
        return result

    def __enter__(self) -> DockerEngine:
        for path in (self.data_root, self.exec_root, self.client_config):
            path.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._clean_leftovers()
            self._start()
        except BaseException:
            self._stop()
            self._release_lock()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._stop()
        finally:
            self._release_lock()

    def _acquire_lock(self) -> None:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise EngineError(
                f"{self.workdir}: another DockerEngine (process {owner}) uses this work dir; "
                "wait for it to finish or pass another workdir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    def _release_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the flock
            self._lock = None

    def _clean_leftovers(self) -> None:
        """Stop a daemon a crashed run left behind (we hold the lock, so it is nobody's) and its mounts."""
        pid = _read_pid(self.pidfile)
        if pid and _is_running(pid, str(self.pidfile)):
            progress(f"stopping a dockerd left by an earlier run (pid {pid})")
            _terminate(pid)
        containerd_pid = _read_pid(self.exec_root / "containerd" / "containerd.pid")
        if containerd_pid and _is_running(containerd_pid, str(self.exec_root)):
            _terminate(containerd_pid)
        self.pidfile.unlink(missing_ok=True)
        _unmount_under(self.exec_root)
        _unmount_under(self.data_root)

    def _start(self) -> None:
        config = self.workdir / "engine" / "daemon.json"
        config.write_text("{}\n")  # ignore the host's /etc/docker/daemon.json
        cmd = [
            DOCKERD, "--config-file", str(config),
            "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=overlay2",
            "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile), "-H", f"unix://{self.socket}",
        ]  # fmt: skip
        with self.log.open("w") as log:
            self._process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, base_url="http://docker", timeout=2) as client:
            while True:
                if self._process.poll() is not None:
                    raise EngineError(f"dockerd exited {self._process.returncode}:\n{_tail(self.log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/_ping").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise EngineError(f"dockerd gave no answer in {START_TIMEOUT_S}s:\n{_tail(self.log)}")
                time.sleep(0.2)

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)  # dockerd stops its containers and its containerd
            try:
                self._process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        _unmount_under(self.exec_root)  # dockerd leaves <exec-root>/netns/default bind-mounted


class LocalRegistry:
    """``docker-registry serve`` on ``127.0.0.1:<free port>`` (plain HTTP, no auth) for a ``with`` block.

    Storage is ``<workdir>/registry/storage`` and kept between runs, so pushing layers it has is quick.
    """

    def __init__(self, workdir: Path | str = DEFAULT_WORKDIR, port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve() / "registry"
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.config = self.workdir / "config.yml"
        self.pidfile = self.workdir / "registry.pid"
        self.log = self.workdir / "registry.log"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> LocalRegistry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pid = _read_pid(self.pidfile)
        if pid and _is_running(pid, str(self.config)):
            progress(f"stopping a registry left by an earlier run (pid {pid})")
            _terminate(pid)
        self.config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage:\n  filesystem: {{rootdirectory: {self.workdir / 'storage'}}}\n  delete: {{enabled: true}}\n"
            f"http:\n  addr: {self.address}\n"
        )
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                [REGISTRY, "serve", str(self.config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pidfile.write_text(f"{self._process.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise EngineError(f"docker-registry exited {self._process.returncode}:\n{_tail(self.log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{self.address}/v2/", timeout=2).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise EngineError(f"docker-registry did not answer on {self.address}:\n{_tail(self.log)}")
            time.sleep(0.2)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        self.pidfile.unlink(missing_ok=True)


def registries_conf(path: Path, registry: LocalRegistry) -> Path:
    """Write a containers registries.conf that marks ``registry`` as plain HTTP (``insecure = true``); return it.

    Debian's skopeo 1.9.3 (checked as root) ignores ``CONTAINERS_REGISTRIES_CONF`` and ``XDG_CONFIG_HOME``. It
    reads the file when it is passed as ``skopeo --registries-conf FILE copy ...`` (a global option), when it is
    ``$HOME/.config/containers/registries.conf`` (so ``HOME=<dir>`` for the skopeo process works; credentials
    still come from ``$DOCKER_CONFIG/config.json``), or when it is dropped into the machine-wide
    ``/etc/containers/registries.conf.d/``. Or give ``--src-tls-verify=false``/``--dest-tls-verify=false``.
    """
    path.write_text(f'[[registry]]\nlocation = "{registry.address}"\ninsecure = true\n')
    return path


def push_by_digest(engine: DockerEngine, image: str, repository: str) -> str:
    """Push the local ``image`` to ``repository`` by digest only (no tag there); return ``repository@sha256:...``.

    That is what docker/build-push-action does with ``push-by-digest=true``. The Debian client (20.10, no buildx)
    can only push a tag, so the image is pushed as a tag of the scratch repository ``<registry>/push-staging/...``,
    then its manifest is put, byte for byte, under its digest in ``repository`` (:func:`_link_by_digest`). The
    local staging tag is removed again. ``repository`` must be on a plain-HTTP registry such as
    :class:`LocalRegistry`.
    """
    registry, _, path = repository.partition("/")
    staging_path = f"push-staging/{path}"
    staging = f"{registry}/{staging_path}:{uuid.uuid4().hex[:12]}"
    engine.docker("tag", image, staging)
    try:
        progress(f"pushing {image} to {repository} by digest")
        engine.docker("push", staging, timeout=1800)
        digests = engine.docker("image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", staging)
        prefix = f"{registry}/{staging_path}@"
        found = [line.removeprefix(prefix) for line in digests.stdout.split() if line.startswith(prefix)]
        if len(found) != 1:
            raise EngineError(f"docker push {staging}: expected one digest, docker reports {digests.stdout.split()}")
        _link_by_digest(registry, staging_path, path, found[0])
    finally:
        engine.docker("rmi", staging, check=False)  # removes the tag only: `image` still names the image
    ref = f"{repository}@{found[0]}"
    progress(f"pushed {ref}")
    return ref


def _link_by_digest(registry: str, source: str, target: str, digest: str) -> None:
    """Put manifest ``digest`` of repository ``source`` into ``target`` under its digest, mounting its blobs.

    Written against the registry API (cross-repository blob mount, then a manifest PUT by digest) rather than
    ``skopeo copy --preserve-digests``, which gives the same result but mounts a blob only when its own cache
    has seen it in the other repository: it downloaded and re-uploaded every layer, about 2 minutes for the
    1.3 GB bento image instead of well under a second.
    """
    base = f"http://{registry}/v2"
    accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    with httpx.Client(timeout=60) as client:
        manifest = client.get(f"{base}/{source}/manifests/{digest}", headers={"Accept": accept})
        if manifest.status_code != 200 or f"sha256:{hashlib.sha256(manifest.content).hexdigest()}" != digest:
            raise EngineError(f"{registry}/{source}@{digest}: HTTP {manifest.status_code}, or not that manifest")
        blobs = [manifest.json()["config"], *manifest.json()["layers"]]
        for blob in blobs:
            mount = client.post(f"{base}/{target}/blobs/uploads/", params={"mount": blob["digest"], "from": source})
            if mount.status_code != 201:
                raise EngineError(f"mounting {blob['digest']} from {source} into {target}: HTTP {mount.status_code}")
        put = client.put(
            f"{base}/{target}/manifests/{digest}",
            content=manifest.content,
            headers={"Content-Type": manifest.headers["content-type"]},
        )
        if put.status_code != 201:
            raise EngineError(f"PUT {target}@{digest}: HTTP {put.status_code} {put.text[:300]}")


def ensure_base_image(engine: DockerEngine, image: str = "python:3.11-slim", cache_dir: Path | None = None) -> str:
    """Make ``image`` (``python:<X.Y>-slim``) available to ``engine``: present, pulled, or built as a stand-in.

    The stand-in is Debian's own Python ``X.Y`` (debootstrap of the matching release from the mirror in this
    machine's apt sources) with pip, venv, the host's extra CA certificates and ``SSL_CERT_FILE`` set (uv reads
    its own root store otherwise), imported under the same name. Its root filesystem is cached as a tarball in
    ``cache_dir`` (default: the engine's work dir), keyed by the CA certificates, so only the first run
    bootstraps. Returns ``image``.
    """
    if engine.docker("image", "inspect", image, check=False).returncode == 0:
        return image
    progress(f"pulling {image}")
    try:
        if engine.docker("pull", image, check=False, timeout=300).returncode == 0:
            return image
    except subprocess.TimeoutExpired:
        pass
    version = image.removeprefix("python:").removesuffix("-slim")
    suite = STAND_IN_SUITES.get(version)
    if suite is None:
        known = ", ".join(f"python:{v}-slim" for v in STAND_IN_SUITES)
        raise EngineError(f"{image} cannot be pulled and has no Debian stand-in (known: {known})")
    certs = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    key = hashlib.sha256(b"".join(cert.read_bytes() for cert in certs)).hexdigest()[:12]
    cache = Path(cache_dir or engine.workdir).resolve()
    tarball = cache / f"rootfs-{suite}-python{version}-{key}.tar"
    if not tarball.exists():
        _build_rootfs(tarball, suite, certs)
    progress(f"importing {tarball.name} as {image} (a stand-in: {image} cannot be pulled here)")
    engine.docker(
        "import",
        "--change", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        "--change", f"ENV PATH={IMAGE_PATH}",
        "--change", "ENV LANG=C.UTF-8",
        "--change", 'CMD ["python3"]',
        str(tarball), image,
        timeout=600,
    )  # fmt: skip
    return image


def _build_rootfs(tarball: Path, suite: str, certs: list[Path]) -> None:
    """debootstrap ``suite`` with Python into a temporary dir, add the CA certs, tar it to ``tarball`` atomically."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        progress(f"debootstrap {suite} from {mirror} (about a minute)")
        try:
            _run([
                "debootstrap", "--variant=minbase",
                "--include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates",
                suite, str(rootfs), mirror,
            ])  # fmt: skip
        finally:
            _unmount_under(rootfs)  # a failed debootstrap may leave /proc or /sys mounted; never delete through them
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()  # the bento's Dockerfile runs `pip install uv` into the system Python, as on python:*-slim
        for cert in certs:
            shutil.copy2(cert, rootfs / "usr/local/share/ca-certificates" / cert.name)
        _run(["chroot", str(rootfs), "update-ca-certificates"])
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        progress(f"writing {tarball.name}")
        partial = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."])
        partial.replace(tarball)


def debian_mirror(suite: str = "bookworm", sources: Path = Path("/etc/apt")) -> str:
    """The first Debian archive URI this machine's apt sources use for ``suite`` (deb822 and one-line formats).

    Hand-written because python-apt is a Debian system package, not installable in the project's venv.
    """
    files = sorted((sources / "sources.list.d").glob("*.sources"))
    for file in files:
        for stanza in file.read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                name, sep, value = line.partition(":")
                if sep and not line.startswith(("#", " ")):
                    fields[name.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) and fields.get("uris"):
                return fields["uris"][0]
    for file in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*.list"))]:
        if not file.exists():
            continue
        for line in file.read_text().splitlines():
            words = [w for w in line.split() if not w.startswith("[") and not w.endswith("]")]
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    raise EngineError(f"no apt source for Debian {suite} in {sources}; add one (e.g. http://deb.debian.org/debian)")


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EngineError(f"{' '.join(cmd)} exited {result.returncode}:\n{(result.stdout + result.stderr)[-4000:]}")


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_running(pid: int, needle: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and its command line mentions ``needle`` (so it is ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and needle in cmdline


def _terminate(pid: int) -> None:
    """SIGTERM ``pid`` (not our child), wait for it to go, SIGKILL it if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while _is_running(pid, ""):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        else:
            return
    raise EngineError(f"process {pid} survived SIGKILL; stop it by hand")


def _unmount_under(path: Path) -> None:
    """Unmount every mount point at or below ``path``, deepest first."""
    prefix = str(path.resolve())
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as \040
        if point == prefix or point.startswith(prefix + "/"):
            mounts.append(point)
    for point in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", point], capture_output=True, check=False)
