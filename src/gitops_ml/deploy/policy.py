"""The project's rules for what an environment's overlay renders, checked offline on the rendered objects.

Each rule is a function from the overlay's rendered objects to findings (empty when the rule holds); every
finding names the object and the file it came from. :data:`RULES` lists them; :func:`check_overlay` runs them all.
The rules: every workload container has ``/livez`` and ``/readyz`` probes, CPU and memory requests and limits,
and runs as non-root without privilege escalation, with every capability dropped, a read-only root filesystem
and the runtime's seccomp profile; every image is pinned by digest (never ``latest``), and the service's image
and model-version label are the ones the overlay's kustomization declares (placeholder and ``unreleased``
together, before the first release); the model-version label is in no selector; a NetworkPolicy covers the
pods; no service-account token is mounted; authentication is on with the tokens Secret mounted read-only and
Prometheus scrapes with the metrics token; an HPA owns the replica count and a PodDisruptionBudget covers the
pods; every Ingress host has TLS; and no Secret is committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ml.deploy.overlay import VERSION_LABEL, OverlayError, read_overlay
from gitops_ml.deploy.render import RenderedObject

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
DIGEST_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
AUTH_ENV = {"GITOPS_ML_AUTH": "on", "GITOPS_ML_TOKENS_FILE": "/etc/gitops-ml/tokens/tokens"}
TOKENS_SECRET = "gitops-ml-tokens"  # noqa: S105  (the name of a Kubernetes Secret, not a password)
TOKENS_MOUNT = "/etc/gitops-ml/tokens"
METRICS_SECRET = ("gitops-ml-metrics-token", "token")


@dataclass(frozen=True)
class Finding:
    """One broken rule: which rule, where (object and file) and what is wrong."""

    rule: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem} [{self.rule}]"


@dataclass(frozen=True)
class Overlay:
    """An environment's overlay: its directory and the objects it renders."""

    directory: Path
    objects: list[RenderedObject]

    def of_kind(self, *kinds: str) -> list[RenderedObject]:
        """The rendered objects of the given kinds."""
        return [o for o in self.objects if o.kind in kinds]


Rule = Callable[[Overlay], Iterator[Finding]]


def check_overlay(overlay: Overlay) -> list[Finding]:
    """Every finding of every rule in :data:`RULES`."""
    return [finding for rule in RULES for finding in rule(overlay)]


def _pod_spec(obj: RenderedObject) -> dict[str, Any]:
    return _dig(obj.manifest, "spec", "template", "spec")


def _pod_labels(obj: RenderedObject) -> dict[str, Any]:
    return _dig(obj.manifest, "spec", "template", "metadata", "labels")


def _containers(obj: RenderedObject, init: bool = True) -> Iterator[dict[str, Any]]:
    spec = _pod_spec(obj)
    keys = ("initContainers", "containers") if init else ("containers",)
    for key in keys:
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _dig(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _where(obj: RenderedObject, container: dict[str, Any] | None = None) -> str:
    return obj.describe() + (f" container {container.get('name')!r}" if container is not None else "")


def probes(overlay: Overlay) -> Iterator[Finding]:
    """Every workload container has an HTTP liveness probe on /livez and readiness probe on /readyz."""
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        for container in _containers(obj, init=False):
            for probe, path in (("livenessProbe", LIVENESS_PATH), ("readinessProbe", READINESS_PATH)):
                actual = _dig(container, probe, "httpGet").get("path")
                if actual != path:
                    problem = f"no {probe}" if probe not in container else f"{probe} is not an httpGet of {path}"
                    yield Finding("probes", _where(obj, container), f"{problem} (BentoML serves {path})")


def resources(overlay: Overlay) -> Iterator[Finding]:
    """Every workload container sets CPU and memory requests and limits."""
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        for container in _containers(obj):
            for section in ("requests", "limits"):
                missing = [r for r in ("cpu", "memory") if r not in _dig(container, "resources", section)]
                if missing:
                    yield Finding(
                        "resources", _where(obj, container), f"resources.{section} lacks {', '.join(missing)}"
                    )


def non_root(overlay: Overlay) -> Iterator[Finding]:
    """Pods run as non-root, with no privilege escalation, no capabilities, a read-only root and seccomp."""
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        pod = _dig(_pod_spec(obj), "securityContext")
        for container in _containers(obj):
            ctx = _dig(container, "securityContext")
            where = _where(obj, container)
            if ctx.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
                yield Finding("non-root", where, "runAsNonRoot is not true (pod or container securityContext)")
            if ctx.get("runAsUser", pod.get("runAsUser")) == 0:
                yield Finding("non-root", where, "runAsUser is 0 (root)")
            if ctx.get("allowPrivilegeEscalation") is not False:
                yield Finding("non-root", where, "securityContext.allowPrivilegeEscalation is not false")
            if ctx.get("privileged") is True:
                yield Finding("non-root", where, "securityContext.privileged is true")
            if "ALL" not in (_dig(ctx, "capabilities").get("drop") or []):
                yield Finding("non-root", where, "securityContext.capabilities.drop does not include ALL")
            if _dig(ctx, "capabilities").get("add"):
                yield Finding("non-root", where, "securityContext.capabilities.add is not empty")
            if ctx.get("readOnlyRootFilesystem") is not True:
                yield Finding("non-root", where, "securityContext.readOnlyRootFilesystem is not true")
            seccomp = _dig(ctx, "seccompProfile").get("type") or _dig(pod, "seccompProfile").get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                yield Finding("non-root", where, "no seccompProfile of type RuntimeDefault (pod or container)")


def pinned_images(overlay: Overlay) -> Iterator[Finding]:
    """Every image is ``name@sha256:<digest>``, never ``latest``; the service runs what the overlay declares."""
    try:
        declared = read_overlay(overlay.directory)
    except OverlayError as exc:
        yield Finding("pinned-images", str(overlay.directory), str(exc))
        return
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        images = [str(c.get("image", "")) for c in _containers(obj)]
        for container in _containers(obj):
            image = str(container.get("image", ""))
            if ":latest" in image.split("@")[0] or not DIGEST_PINNED.fullmatch(image):
                yield Finding(
                    "pinned-images",
                    _where(obj, container),
                    f"image {image!r} is not pinned by digest (name@sha256:...)",
                )
        if declared.reference not in images:
            yield Finding(
                "pinned-images",
                _where(obj),
                f"runs none of its containers from {declared.reference}, the image the overlay declares",
            )
        version = _pod_labels(obj).get(VERSION_LABEL)
        if version != declared.model_version:
            yield Finding(
                "pinned-images",
                _where(obj),
                f"pod label {VERSION_LABEL}={version!r}, but the overlay declares {declared.model_version!r}",
            )


def _selector_keys(data: Any) -> Iterator[str]:
    """Every label key used by any selector anywhere in ``data`` (matchLabels, matchExpressions, plain maps)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "matchLabels" and isinstance(value, dict):
                yield from value
            elif key == "matchExpressions" and isinstance(value, list):
                yield from (str(e.get("key")) for e in value if isinstance(e, dict))
            elif key.lower().endswith("selector"):
                if isinstance(value, dict) and not {"matchLabels", "matchExpressions"} & value.keys():
                    yield from value  # a plain map selector (Service.spec.selector)
                else:
                    yield from _selector_keys(value)
            else:
                yield from _selector_keys(value)
    elif isinstance(data, list):
        for item in data:
            yield from _selector_keys(item)


def version_not_selected(overlay: Overlay) -> Iterator[Finding]:
    """The model-version label is in no selector (a Deployment's selector cannot change)."""
    for obj in overlay.objects:
        if VERSION_LABEL in set(_selector_keys(obj.manifest.get("spec"))):
            yield Finding("version-label", _where(obj), f"a selector uses {VERSION_LABEL}, which changes every release")


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Whether a Kubernetes label selector (matchLabels and matchExpressions) selects ``labels``."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        holds = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(operator, False)
        if not holds:
            return False
    return True


def network_policy(overlay: Overlay) -> Iterator[Finding]:
    """A NetworkPolicy restricting ingress selects every workload's pods."""
    policies = [
        _dig(p.manifest, "spec")
        for p in overlay.of_kind("NetworkPolicy")
        if "Ingress" in (_dig(p.manifest, "spec").get("policyTypes") or ["Ingress"])
    ]
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        if not any(_selects(_dig(p, "podSelector"), _pod_labels(obj)) for p in policies):
            yield Finding("network-policy", _where(obj), "no NetworkPolicy (policyTypes Ingress) selects its pods")


def no_token_automount(overlay: Overlay) -> Iterator[Finding]:
    """Pods mount no service-account token: set false on the pod and on its ServiceAccount."""
    accounts = {o.name: o.manifest for o in overlay.of_kind("ServiceAccount")}
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        pod = _pod_spec(obj)
        name = pod.get("serviceAccountName") or "default"
        if name not in accounts:
            yield Finding("token-automount", _where(obj), f"its ServiceAccount {name!r} is not part of the overlay")
        elif accounts[name].get("automountServiceAccountToken") is not False:
            yield Finding(
                "token-automount",
                _where(obj),
                f"ServiceAccount {name} does not set automountServiceAccountToken: false",
            )
        if pod.get("automountServiceAccountToken") is not False:
            yield Finding("token-automount", _where(obj), "pod spec does not set automountServiceAccountToken: false")


def auth_on(overlay: Overlay) -> Iterator[Finding]:
    """Authentication is on: auth env, the tokens Secret mounted read-only, Prometheus sends the metrics token."""
    for obj in overlay.of_kind(*WORKLOAD_KINDS):
        pod = _pod_spec(obj)
        secret_volumes = {
            v.get("name") for v in pod.get("volumes") or [] if _dig(v, "secret").get("secretName") == TOKENS_SECRET
        }
        for container in _containers(obj, init=False):
            env = {e.get("name"): e for e in container.get("env") or [] if isinstance(e, dict)}
            where = _where(obj, container)
            for name, value in AUTH_ENV.items():
                if env.get(name, {}).get("value") != value:
                    yield Finding("auth", where, f"env {name} is not {value!r}")
            if "value" in env.get("GITOPS_ML_TOKENS", {}):
                yield Finding(
                    "auth", where, "env GITOPS_ML_TOKENS has a literal value: token hashes belong in a Secret"
                )
            mounted = [
                m
                for m in container.get("volumeMounts") or []
                if m.get("name") in secret_volumes and m.get("mountPath", "").rstrip("/") == TOKENS_MOUNT
            ]
            if not mounted:
                yield Finding("auth", where, f"Secret {TOKENS_SECRET} is not mounted at {TOKENS_MOUNT}")
            elif not all(m.get("readOnly") is True for m in mounted):
                yield Finding("auth", where, f"the mount of Secret {TOKENS_SECRET} is not readOnly")
    for monitor in overlay.of_kind("ServiceMonitor"):
        for index, endpoint in enumerate(_dig(monitor.manifest, "spec").get("endpoints") or []):
            credentials = _dig(endpoint, "authorization", "credentials") or _dig(endpoint, "bearerTokenSecret")
            if (credentials.get("name"), credentials.get("key")) != METRICS_SECRET:
                yield Finding(
                    "auth",
                    _where(monitor),
                    f"endpoints[{index}] does not send the bearer token of Secret {METRICS_SECRET[0]} "
                    f"key {METRICS_SECRET[1]}",
                )


def scaling(overlay: Overlay) -> Iterator[Finding]:
    """An HPA owns each Deployment's replica count (none set in the Deployment); a PDB covers its pods."""
    targets = {
        _dig(h.manifest, "spec", "scaleTargetRef").get("name") for h in overlay.of_kind("HorizontalPodAutoscaler")
    }
    budgets = [_dig(p.manifest, "spec", "selector") for p in overlay.of_kind("PodDisruptionBudget")]
    for obj in overlay.of_kind("Deployment"):
        if obj.name not in targets:
            yield Finding("scaling", _where(obj), "no HorizontalPodAutoscaler targets it")
        elif "replicas" in _dig(obj.manifest, "spec"):
            yield Finding(
                "scaling", _where(obj), "sets spec.replicas although an HPA owns it (each sync would reset it)"
            )
        if not any(_selects(b, _pod_labels(obj)) for b in budgets):
            yield Finding("scaling", _where(obj), "no PodDisruptionBudget selects its pods")


def ingress_tls(overlay: Overlay) -> Iterator[Finding]:
    """Every Ingress host is covered by a TLS entry with a Secret (TLS ends at the Ingress)."""
    for ingress in overlay.of_kind("Ingress"):
        spec = _dig(ingress.manifest, "spec")
        covered = {h for t in spec.get("tls") or [] if t.get("secretName") for h in t.get("hosts") or []}
        for rule in spec.get("rules") or []:
            host = rule.get("host")
            if host not in covered:
                yield Finding("ingress-tls", _where(ingress), f"host {host!r} has no tls entry with a secretName")


def no_committed_secrets(overlay: Overlay) -> Iterator[Finding]:
    """No Secret with data is rendered from git: Secrets are created in the cluster (docs/deploy.md)."""
    for secret in overlay.of_kind("Secret"):
        if secret.manifest.get("data") or secret.manifest.get("stringData"):
            yield Finding(
                "secrets", _where(secret), "a Secret with data is committed; create it in the cluster instead"
            )


RULES: tuple[Rule, ...] = (
    probes,
    resources,
    non_root,
    pinned_images,
    version_not_selected,
    network_policy,
    no_token_automount,
    auth_on,
    scaling,
    ingress_tls,
    no_committed_secrets,
)
