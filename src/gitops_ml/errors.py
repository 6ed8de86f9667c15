"""The project's expected failures. The CLI reports any :class:`ProjectError` as one clear paragraph.

Kept free of heavy imports so that every command starts fast and can still name what went wrong.
"""


class ProjectError(Exception):
    """An expected failure whose message already says what is wrong and how to fix it."""


class ConfigError(ProjectError, ValueError):
    """``params.yaml`` is missing, is not YAML, or does not match the typed config."""


class DataContractError(ProjectError, ValueError):
    """The data breaks the contract; the message lists each failing column and check with its row count."""


class DataSourceError(ProjectError, RuntimeError):
    """``data/`` cannot be made to match ``data.dvc``."""


class TrackingError(ProjectError, RuntimeError):
    """The MLflow tracking server is unreachable or refused the run."""


class UntrustedModelError(ProjectError, ValueError):
    """The model file holds types outside the trusted list, or is not a skops file at all."""


class StaleLockError(ProjectError, RuntimeError):
    """The ``dvc.lock`` committed at HEAD does not record the recipe of the outputs in the working tree."""


class ReleaseGuardError(ProjectError, RuntimeError):
    """The release workflow was started for something other than a passing commit of the default branch."""


class InitDataError(ProjectError, ValueError):
    """``gitops-ml init-data`` cannot adopt the given file; nothing was written."""


class CompareError(ProjectError, RuntimeError):
    """The two sides of a pull-request report cannot be compared (a missing output, an unknown git ref)."""


class GitError(ProjectError, RuntimeError):
    """A git command the project needs failed (not a repository, an unknown commit, a worktree it cannot add)."""


class MaterialiseError(ProjectError, RuntimeError):
    """A commit's pipeline outputs cannot be made in a temporary worktree (no checkout, or its ``dvc repro`` failed)."""


class ChampionError(ProjectError, RuntimeError):
    """The champion's model cannot be found, reproduced or trusted."""


class ReleaseError(ProjectError, RuntimeError):
    """The release cannot be recorded (the gate said no, the gate report is stale, git refused)."""


class ArtifactError(ProjectError, ValueError):
    """The pull-request artifact is missing a file or fails a check; the message names which and why."""


class CommentError(ProjectError, RuntimeError):
    """The comment cannot be posted: bad run metadata, no matching pull request, or an ambiguous one."""


class ImageUploadError(ProjectError, RuntimeError):
    """``cml asset publish`` is missing, failed, or printed something other than an https URL."""


class GitHubError(ProjectError, RuntimeError):
    """A GitHub API call failed; the message names the call, the status and GitHub's own message."""


class GitHubReleaseError(ProjectError, RuntimeError):
    """The release cannot be made: a bad tag, a tag missing from the checkout, or missing release notes."""


class ModelStoreError(ProjectError, ValueError):
    """The model cannot be imported into, or found in, the BentoML model store."""


class PrivateApiError(ProjectError, RuntimeError):
    """A library no longer offers the private API one of the adapters in :mod:`gitops_ml.adapters` relies on."""


class DriftInputError(ProjectError, ValueError):
    """The drift check cannot judge the window (unreadable, too small, columns missing or of the wrong type);
    nothing was written."""


class DeployError(ProjectError, RuntimeError):
    """A promotion, rollback or deploy pull request cannot be made (unknown environment or version, push failed)."""


class BentoBuildError(ProjectError, ValueError):
    """The bento cannot be built as configured: a bentofile key missing, or a package ``uv.lock`` cannot pin."""


class ComputeError(ProjectError, RuntimeError):
    """The Dask cluster cannot be reached, a worker died, or a computation on it failed or timed out; the message
    names the scheduler, the stage or the partition, and the fix. Nothing was written."""
