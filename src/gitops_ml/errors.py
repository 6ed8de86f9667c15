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


class DriftInputError(ProjectError, ValueError):
    """The drift check cannot judge the window (unreadable, too small, columns missing or of the wrong type);
    nothing was written."""
