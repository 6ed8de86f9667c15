"""Which runs of the release workflow may publish: passing commits of the default branch, nothing else.

``release.yml`` starts on ``workflow_run`` (after ``ci`` completes) and on ``workflow_dispatch``. The workflow's
``if:`` already skips ``ci`` runs that did not pass; this check is the second lock and the readable refusal:
a manual dispatch on another branch (or on a tag that bears the default branch's name: the full ref
``refs/heads/<default branch>`` is compared, never the short name), or a ``ci`` run of a pull request, a fork or
another branch, fails the job with a message instead of gating and publishing whatever was checked out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitops_ml.errors import ReleaseGuardError


@dataclass(frozen=True)
class ReleaseTrigger:
    """The facts of a release run, as the workflow passes them in its environment."""

    event: str  # GITHUB_EVENT_NAME
    repository: str  # GITHUB_REPOSITORY
    default_branch: str  # DEFAULT_BRANCH (github.event.repository.default_branch)
    ref: str = ""  # GITHUB_REF: the full ref a manual dispatch runs on (refs/heads/main, refs/tags/main...)
    run_event: str = ""  # RUN_EVENT: the event of the ci run (workflow_run)
    run_conclusion: str = ""  # RUN_CONCLUSION
    run_branch: str = ""  # RUN_HEAD_BRANCH
    run_repository: str = ""  # RUN_HEAD_REPOSITORY

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReleaseTrigger:
        """Read the trigger from the environment variables named on each field."""
        return cls(
            event=env.get("GITHUB_EVENT_NAME", ""),
            repository=env.get("GITHUB_REPOSITORY", ""),
            default_branch=env.get("DEFAULT_BRANCH", ""),
            ref=env.get("GITHUB_REF", ""),
            run_event=env.get("RUN_EVENT", ""),
            run_conclusion=env.get("RUN_CONCLUSION", ""),
            run_branch=env.get("RUN_HEAD_BRANCH", ""),
            run_repository=env.get("RUN_HEAD_REPOSITORY", ""),
        )


def check_trigger(trigger: ReleaseTrigger) -> str:
    """Return a one-line description of an allowed run; raise :class:`ReleaseGuardError` for any other."""
    if not trigger.default_branch:
        raise ReleaseGuardError("DEFAULT_BRANCH is empty: pass github.event.repository.default_branch to this step")
    if trigger.event == "workflow_dispatch":
        expected = f"refs/heads/{trigger.default_branch}"
        if trigger.ref != expected:
            raise ReleaseGuardError(
                f"manual release runs are refused on {trigger.ref or 'an unknown ref'!r}: releases come only from "
                f"the default branch {expected!r}; dispatch the workflow from there"
            )
        return f"manual run on {trigger.default_branch}"
    if trigger.event == "workflow_run":
        problems = []
        if trigger.run_event != "push":
            problems.append(f"the ci run was for a {trigger.run_event or 'unknown'} event, not a push")
        if trigger.run_conclusion != "success":
            problems.append(f"the ci run concluded {trigger.run_conclusion or 'unknown'}, not success")
        if trigger.run_branch != trigger.default_branch:
            problems.append(f"the ci run was on branch {trigger.run_branch!r}, not {trigger.default_branch!r}")
        if trigger.run_repository != trigger.repository:
            problems.append(f"the ci run was in {trigger.run_repository!r}, not {trigger.repository!r}")
        if problems:
            raise ReleaseGuardError("no release: " + "; ".join(problems))
        return f"ci passed on {trigger.default_branch}"
    event = trigger.event or "no"
    raise ReleaseGuardError(
        f"the release workflow runs after ci (workflow_run) or by manual dispatch, not on {event} events"
    )
