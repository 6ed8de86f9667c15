"""The team's own checks: they read the repository's params.yaml and data/, unlike the template's tests."""
