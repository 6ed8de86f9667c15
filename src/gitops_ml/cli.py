"""The one command line that ``dvc.yaml``, the Makefile and the workflows call: ``gitops-ml``.

Every command reads ``params.yaml`` once through the typed config and turns expected failures (bad params,
bad data, an unreachable tracking server) into a one-paragraph error and exit code 1, never a traceback.

Commands live in one module per flow and are registered here, in one place, grouped by flow in ``--help``.
Command modules import only light modules at the top and their heavy ones (pandas, sklearn, DVC, MLflow,
BentoML) when they run, so ``gitops-ml --help`` and every command start fast. Nothing imports this module back.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from gitops_ml import pipeline_commands as pipeline
from gitops_ml.cli_support import clean_errors, skip_the_final_collection
from gitops_ml.deploy import commands as deploy
from gitops_ml.gitops import deploy_commands as deploy_flow
from gitops_ml.gitops import gate_commands as release
from gitops_ml.gitops import github_commands as github
from gitops_ml.gitops import loop_commands as loop
from gitops_ml.gitops import report_commands as pull_requests
from gitops_ml.monitoring import commands as monitoring
from gitops_ml.serving import commands as serving
from gitops_ml.template import commands as template

skip_the_final_collection()

app = typer.Typer(
    name="gitops-ml",
    help="GitOps ML template: pipeline stages, reports, release gate and service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

COMMANDS: dict[str, list[Callable[..., None]]] = {
    "Pipeline": [
        pipeline.init_data,
        pipeline.sample_data,
        pipeline.ensure_data,
        pipeline.validate,
        pipeline.split,
        pipeline.train,
        pipeline.evaluate,
        pipeline.metrics,
        pipeline.score,
    ],
    "Pull requests": [
        release.check_lock,
        pull_requests.report,
        pull_requests.job_summary,
        pull_requests.ci_remote,
        github.post_pr_comment,
    ],
    "Releases": [
        release.release_guard,
        release.gate,
        release.release_check,
        release.promote,
        release.release_notes,
        github.github_release,
        release.set_champion_alias,
        release.image_ref,
        release.smoke_test,
    ],
    "Serving": [
        serving.model_version,
        serving.import_model,
        serving.build_bento,
        serving.bento_context,
        serving.token,
        serving.tls_cert,
    ],
    "Deploy": [
        deploy.deploy_check,
        deploy_flow.deploy_pr,
        deploy_flow.promote_env,
        deploy_flow.rollback,
        deploy_flow.sync_champion,
    ],
    "Monitoring": [
        monitoring.drift_reference,
        monitoring.drift,
        loop.monitor_source,
        loop.drift_issue,
        loop.retrain,
    ],
    "Template": [
        template.footprint,
        template.init_project,
        template.rename,
        template.upgrade,
        template.engine_test,
    ],
}

for panel, commands in COMMANDS.items():
    for command in commands:
        app.command(name=command.__name__.replace("_", "-"), rich_help_panel=panel)(clean_errors(command))
