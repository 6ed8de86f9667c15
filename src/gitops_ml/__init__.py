"""GitOps CI/CD template for machine learning."""
