"""Workflow rehearsal (``make rehearse``): the real ``.github/workflows`` files run by act on this machine.

What is real: act (evaluating expressions, ``if:``, ``needs``, outputs, ``vars``, ``secrets``), every ``run:``
step (make targets, ``gitops-ml``, DVC, the pipeline on the sample data, BentoML, Docker builds, skopeo), git
(origin is a bare repository with GitHub's ``refs/pull/N/head`` and ``refs/pull/N/merge``), a Docker engine
and registry. What stands in for GitHub: the third-party actions (``standins/``, one composite action per pinned
commit, see :data:`tests.support.act_runner.STANDINS`), the API (:mod:`tests.support.github_stub`, recording
every call) and the events (:mod:`.hosting` builds the payloads GitHub would send and hands out run ids).

What act does not model, so the rehearsal does not check it: ``permissions:`` (tokens are not scoped),
``concurrency:``, ``environment:`` protection rules, and GitHub's hosted-runner image (jobs run on this host).

Files: ``hosting.py`` (the repository, pull requests, runs and re-runs), ``checks.py`` (what a run must leave
behind: comments, Releases, registry tags, git tags), ``conftest.py`` (fixtures), one ``test_*.py`` per flow.
act's output per run: ``build/rehearsal/logs/<test>/<run>.log`` (readable) and ``.jsonl`` (act's JSON log).
"""
