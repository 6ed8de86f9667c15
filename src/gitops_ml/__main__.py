"""``python -m gitops_ml`` runs the CLI."""

from gitops_ml.cli import app

app(prog_name="gitops-ml")
