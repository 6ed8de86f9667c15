"""The private third-party APIs the adapters rely on are still there, shaped as the adapters expect.

Each check fails with the library's name and installed version and the adapter to update, so an upgrade that
changes one of them is caught here, not in a release run.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from gitops_ml import adapters
from gitops_ml.adapters import (
    bentoml_container,
    bentoml_request_id,
    bentoml_server,
    dvc_workspace,
    prometheus_histogram,
    sklearn_hist_gradient_boosting,
)
from gitops_ml.errors import PrivateApiError, ProjectError
from gitops_ml.model_io import TRUSTED_TYPES
from tests.support.projects import run


def test_bentoml_containerfile_api_is_there() -> None:
    bentoml_container.check()


def test_bentoml_request_id_is_there() -> None:
    bentoml_request_id.check()
    assert bentoml_request_id.request_id() is None  # outside a request


def test_bentoml_request_id_reads_the_id_bentoml_set() -> None:
    """The id the prediction log writes is the one BentoML's ``X-BentoML-Request-ID`` header shows."""
    from bentoml._internal.context import trace_context

    trace_context.request_id = 0xABC
    try:
        assert bentoml_request_id.request_id() == "0000000000000abc"
    finally:
        trace_context.request_id = None


def test_bentoml_server_hooks_are_there() -> None:
    bentoml_server.check()
    assert bentoml_server.request_error_logger().name == bentoml_server.LOG_MODULE


def test_the_wrapped_service_app_is_the_outermost_layer() -> None:
    """``to_asgi`` (what BentoML's worker calls) returns the wrapper around BentoML's app; nothing else changes."""
    import bentoml

    @bentoml.service(name="adapter-probe")
    class Probe:
        @bentoml.api  # type: ignore[untyped-decorator]
        def echo(self, text: str) -> str:
            return text

    wrapped: list[object] = []

    def wrap(app: object) -> tuple[str, object]:
        wrapped.append(app)
        return ("outer", app)

    bentoml_server.wrap_app(Probe, wrap)
    assert isinstance(Probe, bentoml.Service)
    assert type(Probe).__name__ == "Service"
    outer = Probe.to_asgi(is_main=True)
    assert outer == ("outer", wrapped[0])
    assert "/echo" in {getattr(route, "path", "") for route in wrapped[0].routes}  # type: ignore[attr-defined]


def test_prometheus_histogram_internals_are_there() -> None:
    prometheus_histogram.check()


def test_hist_gradient_boosting_trees_are_there() -> None:
    sklearn_hist_gradient_boosting.check()


def test_hist_gradient_boosting_without_its_trees_is_reported_with_the_version() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    unfitted = HistGradientBoostingRegressor()
    with pytest.raises(PrivateApiError, match=r"scikit-learn \S+ changed its private API .*sklearn_hist_gradient"):
        sklearn_hist_gradient_boosting.trees(unfitted)


def test_dvc_data_build_api_is_there() -> None:
    dvc_workspace.check()


def test_the_dvc_adapter_hashes_the_workspace_without_writing_to_the_cache(tmp_path: Path) -> None:
    run(["dvc", "init", "--no-scm", "-q"], tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a,b\n1,2\n")
    run(["dvc", "add", "data"], tmp_path)
    run(["dvc", "cache", "dir", "--local", str(tmp_path / "other-cache")], tmp_path)  # empty: nothing cached
    assert dvc_workspace.workspace_matches(Path("data.dvc"), tmp_path)
    (tmp_path / "data" / "rows.csv").write_text("a,b\n1,3\n")
    assert not dvc_workspace.workspace_matches(Path("data.dvc"), tmp_path)
    assert not (tmp_path / "other-cache").exists()  # a dry run
    (tmp_path / "data" / "rows.csv").unlink()
    (tmp_path / "data").rmdir()
    assert not dvc_workspace.workspace_matches(Path("data.dvc"), tmp_path)


@pytest.mark.parametrize("name", TRUSTED_TYPES)
def test_the_trusted_model_types_still_exist(name: str) -> None:
    """skops trusts types by their full (partly private) module path, which scikit-learn may move."""
    module, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attribute, None)
    except ImportError:
        found = None
    assert found is not None, (
        f"{adapters.installed(module.split('.')[0].replace('sklearn', 'scikit-learn'))} has no {name}: "
        "update the estimator's trusted_types in src/gitops_ml/pipeline/estimators.py (or BASE_TRUSTED_TYPES in "
        "src/gitops_ml/model_io.py for the preprocessing)"
    )


def test_ruamel_keeps_a_following_comment_where_params_yaml_expects_it() -> None:
    """params_yaml.py moves comments through ruamel's comment attribute (``.ca.items``, slot 2 of a key)."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    from gitops_ml import params_yaml

    doc = params_yaml.load("a:\n  b: 1  # eol\n\n# next\nc: 2\n")
    token = doc["a"].ca.items["b"][params_yaml._MAP_SLOT]
    version = adapters.installed("ruamel.yaml")
    assert isinstance(token, CommentToken), f"{version}: no CommentToken in slot 2; update src/gitops_ml/params_yaml.py"
    assert token.value == "# eol\n\n# next\n", f"{version}: comment token {token.value!r}; update params_yaml.py"
    CommentToken("\n", CommentMark(0), None)  # the constructor params_yaml.py calls


def test_a_changed_private_api_is_reported_with_the_library_version() -> None:
    with pytest.raises(PrivateApiError) as error:
        adapters.private_attribute("bentoml._internal.container", "no_such_function", "bentoml", "the adapter")
    message = str(error.value)
    assert message.startswith(f"{adapters.installed('bentoml')} changed its private API ")
    assert "bentoml._internal.container.no_such_function" in message
    assert "update the adapter for this version" in message


def test_a_changed_signature_is_reported_with_the_parameters_it_has() -> None:
    def construct(bento: object, *, features: object = None) -> None: ...

    with pytest.raises(PrivateApiError, match=r"no parameter enable_buildkit; it takes bento, features"):
        adapters.require_parameters(construct, ("bento", "enable_buildkit"), "bentoml", "x.construct", "the adapter")


def test_a_removed_private_module_is_a_project_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ProjectError: the CLI reports it as one clear paragraph, never a traceback."""
    monkeypatch.setitem(sys.modules, "bentoml._internal.container", None)  # as if this bentoml had no such module
    with pytest.raises(ProjectError, match=r"changed its private API bentoml\._internal\.container\.construct"):
        bentoml_container.check()
