"""The service's own latency histograms: where a ``/predict`` request's time goes inside the server.

BentoML's ``bentoml_service_request_duration_seconds`` (label ``endpoint="/predict"``) times the whole request
inside the server, from the ASGI app receiving it to the last byte of the response. These two split out the
batcher's part, each observed once per request:

- ``gitops_ml_queue_wait_seconds``: from the request's records entering the batcher until its model call starts
  in its worker thread (waiting for a busy model, plus the hand-over to the thread);
- ``gitops_ml_model_call_seconds``: the model call that scored the request (features and classifier); requests
  batched into one call each observe that call's time.

What remains of the request duration is HTTP, validating the records and building the response. The latency
benchmark (``benchmarks/latency.py``) reads the three from ``/metrics`` for its per-request breakdown.
"""

from __future__ import annotations

import bentoml

from gitops_ml.serving.batching import CallTiming

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

QUEUE_WAIT = bentoml.metrics.Histogram(
    name="gitops_ml_queue_wait_seconds",
    documentation="Per request: from entering the batcher until its model call started (seconds).",
    buckets=BUCKETS,
)
MODEL_CALL = bentoml.metrics.Histogram(
    name="gitops_ml_model_call_seconds",
    documentation="Per request: duration of the model call that scored its records (seconds).",
    buckets=BUCKETS,
)


def record_call(timing: CallTiming) -> None:
    """Observe one model call's timing for each request it served (the batcher's ``on_call``)."""
    for wait in timing.queue_waits_s:
        QUEUE_WAIT.observe(wait)
        MODEL_CALL.observe(timing.call_s)
