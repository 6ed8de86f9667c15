"""The bare ASGI app: the practical limit of a Python HTTP server scoring this model on this machine.

``POST /predict`` with ``{"records": [...]}`` answers ``{"predictions": [...]}``: one score per record (binary:
the positive class's probability; multiclass: one probability per class; regression: the value), from the same
scorer the service calls (``scorer.column_scorer``) behind the same batcher (``serving.batching.Batcher``, small
calls in the event loop), served by the same uvicorn (same HTTP parser and event loop as ``bentoml serve``). What
it leaves out is everything the service adds per request: BentoML's routing, middleware, tracing and metrics,
pydantic validation, authentication, the prediction log and the per-record response objects. JSON goes through
orjson; a record missing a feature is answered 400, nothing else is checked. ``GET /readyz`` answers 200.

Run by the latency benchmark, never in production::

    python -m benchmarks.bare_asgi --project PROJECT --port PORT [--workers N]

``PROJECT`` holds ``params.yaml`` and ``models/model.skops``; only 127.0.0.1 is served.
"""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gitops_ml.config import load_params
from gitops_ml.model_call.scorer import column_scorer
from gitops_ml.model_io import load_model
from gitops_ml.serving.batching import Batcher

PROJECT_ENV = "GITOPS_ML_BARE_PROJECT"
"""The project directory, handed to each uvicorn worker through the environment."""
HOST = "127.0.0.1"


def create_app(project: Path | None = None) -> Starlette:
    """The app scoring with the model of ``project`` (default: ``$GITOPS_ML_BARE_PROJECT``), model loaded now."""
    project = Path(project or os.environ[PROJECT_ENV])
    params = load_params(project / "params.yaml")
    scorer = column_scorer(load_model(project / "models" / "model.skops"), params.schema)
    batcher = Batcher(scorer, params.serving.max_batch_size)
    batcher.inline_max_rows = scorer.quick_call_max_rows
    features = params.schema.feature_names
    gc.freeze()  # as the service does after loading: no full collection walks the model's objects mid-request

    async def predict(request: Request) -> Response:
        records = orjson.loads(await request.body())["records"]
        try:
            columns = {name: [record[name] for record in records] for name in features}
        except KeyError as exc:
            return Response(orjson.dumps({"error": f"a record has no {exc.args[0]!r}"}), 400)
        scores = await batcher(columns)
        return Response(orjson.dumps({"predictions": scores.tolist()}))

    async def ready(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/readyz", ready)])


def main(argv: list[str] | None = None) -> None:
    """Serve :func:`create_app` with uvicorn on 127.0.0.1 (uvicorn's defaults, as ``bentoml serve`` uses them)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_asgi", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="holds params.yaml and models/model.skops")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ[PROJECT_ENV] = str(args.project.resolve())
    uvicorn.run(
        "benchmarks.bare_asgi:create_app",
        factory=True,
        host=HOST,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
