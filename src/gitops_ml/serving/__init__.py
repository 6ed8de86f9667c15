"""The BentoML prediction service: request schema from params.yaml, model store import, the service itself."""
