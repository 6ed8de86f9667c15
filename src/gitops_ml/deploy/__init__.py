"""Deploying by git: the kustomize overlays under ``deploy/`` and the offline checks of what they render.

:mod:`~gitops_ml.deploy.overlay` reads and writes the image and model version an overlay deploys;
:mod:`~gitops_ml.deploy.render` renders a kustomization with ``kubectl kustomize``;
:mod:`~gitops_ml.deploy.schemas` validates rendered objects against the Kubernetes and CRD JSON schemas;
:mod:`~gitops_ml.deploy.policy` checks the project's rules (probes, limits, non-root, digests, auth);
:mod:`~gitops_ml.deploy.commands` is ``gitops-ml deploy-check``, which runs all three.
"""
