"""Reading and writing the image an overlay deploys: round trips keep the file, malformed overlays are named."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_ml.deploy.overlay import (
    PLACEHOLDER_DIGEST,
    UNRELEASED,
    VERSION_LABEL,
    DeployedImage,
    OverlayError,
    environments,
    kustomization_file,
    overlay_dir,
    read_overlay,
    write_overlay,
)
from gitops_ml.deploy.render import find_kubectl
from tests.deploy.conftest import DEPLOY

DIGEST_A = "sha256:" + "a" * 64
RELEASE = DeployedImage("ghcr.io/acme/fraud-model", DIGEST_A, "model-v3")

MINIMAL = f"""\
# a minimal overlay
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
labels:
  - pairs:
      {VERSION_LABEL}: model-v1   # the model version
    includeSelectors: false
images:
  - name: gitops-ml-service
    newName: ghcr.io/acme/fraud-model
    digest: sha256:{"b" * 64}
"""


def _overlay(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "deploy" / "overlays" / "staging"
    directory.mkdir(parents=True)
    (directory / "kustomization.yaml").write_text(text, encoding="utf-8")
    return directory


def test_every_overlay_of_the_template_reads():
    names = environments(DEPLOY.parent)
    assert {"staging", "production"} <= set(names)
    for name in names:
        image = read_overlay(overlay_dir(name, DEPLOY.parent))
        assert image.released == (image.model_version != "unreleased")


def test_placeholder_means_nothing_released(tmp_path: Path):
    directory = _overlay(tmp_path, MINIMAL)
    write_overlay(directory, UNRELEASED)
    image = read_overlay(directory)
    assert image == UNRELEASED
    assert not image.released
    assert image.digest == PLACEHOLDER_DIGEST
    assert read_overlay(_overlay(tmp_path / "other", MINIMAL)).released


def test_write_changes_only_the_three_values_and_keeps_comments(deploy_project: Path):
    kustomization = kustomization_file(deploy_project / "deploy" / "overlays" / "production")
    before = kustomization.read_text(encoding="utf-8")
    write_overlay(kustomization.parent, RELEASE)
    after = kustomization.read_text(encoding="utf-8")

    assert read_overlay(kustomization.parent) == RELEASE
    changed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith(("- ", "+ "))]
    assert sorted(changed) == sorted(
        [
            "- " + next(line for line in before.splitlines() if VERSION_LABEL in line),
            "+ " + next(line for line in after.splitlines() if VERSION_LABEL in line),
            "- " + next(line for line in before.splitlines() if "newName:" in line),
            f"+     newName: {RELEASE.repository}",
            "- " + next(line for line in before.splitlines() if "digest:" in line),
            f"+     digest: {RELEASE.digest}",
        ]
    )
    assert f"{VERSION_LABEL}: model-v3" in after
    assert [line for line in before.splitlines() if line.lstrip().startswith("#")] == [
        line for line in after.splitlines() if line.lstrip().startswith("#")
    ]


def test_written_overlay_renders_the_image_and_label_outside_selectors(deploy_project: Path):
    overlay = deploy_project / "deploy" / "overlays" / "staging"
    write_overlay(overlay, RELEASE)
    rendered = subprocess.run(
        [str(find_kubectl()), "kustomize", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == RELEASE.reference
    assert deployment["spec"]["template"]["metadata"]["labels"][VERSION_LABEL] == "model-v3"
    assert deployment["metadata"]["labels"][VERSION_LABEL] == "model-v3"
    assert VERSION_LABEL not in deployment["spec"]["selector"]["matchLabels"]


_COMPONENT = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8}){0,2}", fullmatch=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    host=st.sampled_from(["ghcr.io", "registry.example.com:5000", "localhost:5000", "docker.io"]),
    path=st.lists(_COMPONENT, min_size=1, max_size=3),
    digest=st.from_regex(r"[0-9a-f]{64}", fullmatch=True).filter(lambda d: set(d) != {"0"}),
    release=st.integers(min_value=1, max_value=10**6),
)
def test_any_valid_image_round_trips(tmp_path_factory, host, path, digest, release):
    directory = _overlay(tmp_path_factory.mktemp("rt"), MINIMAL)
    image = DeployedImage(f"{host}/{'/'.join(path)}", f"sha256:{digest}", f"model-v{release}")
    write_overlay(directory, image)
    assert read_overlay(directory) == image
    assert "# the model version" in (directory / "kustomization.yaml").read_text(encoding="utf-8")


# Overlays whose shape is wrong: neither read nor written (the file stays as it was).
BAD_SHAPES = {
    "not a mapping": ("- just a list\n", "expected a kustomization"),
    "invalid YAML": ("images: [unclosed\n", "not valid YAML"),
    "no images": (MINIMAL.split("images:")[0], "images: missing or not a list"),
    "no entry for the service": (
        MINIMAL.replace("name: gitops-ml-service", "name: other"),
        "images: no entry named gitops-ml-service",
    ),
    "two entries": (
        MINIMAL + "  - name: gitops-ml-service\n    digest: sha256:" + "c" * 64 + "\n",
        "images: 2 entries named gitops-ml-service",
    ),
    "a tag": (MINIMAL + "    newTag: latest\n", "newTag is set"),
    "no version label": (MINIMAL.replace(VERSION_LABEL, "team"), f"labels: no entries set {VERSION_LABEL}"),
    "version in selectors": (
        MINIMAL.replace("includeSelectors: false", "includeSelectors: true"),
        "must stay out of selectors",
    ),
    "version in commonLabels": (
        MINIMAL + f"commonLabels:\n  {VERSION_LABEL}: model-v1\n",
        "commonLabels enter selectors",
    ),
}
# Overlays of the right shape with a bad value: not read; writing a good image repairs them.
BAD_VALUES = {
    "a short digest": (MINIMAL.replace("b" * 64, "b" * 12), "is not sha256:<64 lowercase hex digits>"),
    "no digest": (MINIMAL.replace("    digest: sha256:" + "b" * 64 + "\n", ""), "images[gitops-ml-service].digest"),
    "uppercase repository": (MINIMAL.replace("acme/fraud-model", "Acme/fraud-model"), "is not an image name"),
    "a repository with a tag": (MINIMAL.replace("fraud-model\n", "fraud-model:v1\n"), "is not an image name"),
    "not a release": (MINIMAL.replace("model-v1", "v1"), "is neither a release (model-vN) nor 'unreleased'"),
    "unreleased with a real digest": (MINIMAL.replace("model-v1", "unreleased"), "goes with 'unreleased'"),
    "a release with the placeholder": (MINIMAL.replace("b" * 64, "0" * 64), "goes with 'unreleased'"),
}


@pytest.mark.parametrize("case", sorted(BAD_SHAPES))
def test_a_malformed_overlay_is_named_and_never_rewritten(tmp_path: Path, case: str):
    text, message = BAD_SHAPES[case]
    directory = _overlay(tmp_path, text)
    with pytest.raises(OverlayError, match=r"kustomization\.yaml: ") as read_error:
        read_overlay(directory)
    assert message in str(read_error.value)
    with pytest.raises(OverlayError, match=r"kustomization\.yaml: ") as write_error:
        write_overlay(directory, RELEASE)
    assert message in str(write_error.value)
    assert (directory / "kustomization.yaml").read_text(encoding="utf-8") == text


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_a_bad_value_is_named_and_a_write_repairs_it(tmp_path: Path, case: str):
    text, message = BAD_VALUES[case]
    directory = _overlay(tmp_path, text)
    with pytest.raises(OverlayError, match=r"kustomization\.yaml: ") as read_error:
        read_overlay(directory)
    assert message in str(read_error.value)
    write_overlay(directory, RELEASE)
    assert read_overlay(directory) == RELEASE


@pytest.mark.parametrize(
    ("repository", "digest", "version", "message"),
    [
        ("ghcr.io/acme/x:latest", DIGEST_A, "model-v1", "without a tag or digest"),
        ("ghcr.io/acme/x", "sha256:" + "A" * 64, "model-v1", "64 lowercase hex"),
        ("ghcr.io/acme/x", DIGEST_A, "model-v0", "neither a release"),
        ("ghcr.io/acme/x", DIGEST_A, "latest", "neither a release"),
        ("ghcr.io/acme/x", PLACEHOLDER_DIGEST, "model-v2", "goes with 'unreleased'"),
    ],
)
def test_deployed_image_refuses_bad_values(repository: str, digest: str, version: str, message: str):
    with pytest.raises(OverlayError, match=message):
        DeployedImage(repository, digest, version)


def test_unknown_environment_lists_the_known_ones(tmp_path: Path):
    _overlay(tmp_path, MINIMAL)
    with pytest.raises(OverlayError, match=r"no overlay 'prod' .*\(environments: staging\)"):
        overlay_dir("prod", tmp_path)
    with pytest.raises(OverlayError, match=r"no kustomization\.yaml"):
        kustomization_file(tmp_path)
