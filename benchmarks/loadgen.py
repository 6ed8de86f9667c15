"""A small, bounded HTTP load generator (asyncio + httpx) for servers on 127.0.0.1 only.

``concurrency`` clients send POST requests back to back, cycling through prepared JSON bodies, until
``max_requests`` have been sent or ``max_seconds`` have passed, whichever comes first. Every request has a
timeout. A few warm-up requests go first and are not counted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

REQUEST_TIMEOUT_S = 30.0
WARMUP_REQUESTS = 5


@dataclass(frozen=True)
class LoadResult:
    """What one bounded load run measured."""

    requests: int
    errors: int
    duration_s: float
    latencies_ms: list[float]
    first_error: str | None

    def summary(self, records_per_request: int) -> dict[str, Any]:
        """Requests/s, records/s, p50/p99 latency (successful requests) and the error count."""
        ok = self.requests - self.errors
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        return {
            "requests": self.requests,
            "errors": self.errors,
            "duration_s": round(self.duration_s, 2),
            "requests_per_s": round(ok / self.duration_s, 1),
            "records_per_s": round(ok * records_per_request / self.duration_s, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "first_error": self.first_error,
        }


def _check_local(url: str) -> None:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests only target 127.0.0.1; refusing {url}")


async def _run(
    url: str, bodies: list[bytes], concurrency: int, max_requests: int, max_seconds: float, check: Any
) -> LoadResult:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        for i in range(WARMUP_REQUESTS):
            await client.post(url, content=bodies[i % len(bodies)], headers=headers)
        sent = 0
        errors = 0
        first_error: str | None = None
        latencies: list[float] = []
        start = time.perf_counter()
        deadline = start + max_seconds

        async def worker(offset: int) -> None:
            nonlocal sent, errors, first_error
            i = offset
            while sent < max_requests and time.perf_counter() < deadline:
                sent += 1
                body = bodies[i % len(bodies)]
                i += concurrency
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    problem = (
                        None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:300]}"
                    )
                    if problem is None:
                        problem = check(response)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                if problem is None:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1
                    first_error = first_error or problem

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        duration = time.perf_counter() - start
    return LoadResult(sent, errors, duration, latencies, first_error)


def run_load(
    url: str,
    bodies: list[bytes],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    check: Any = lambda response: None,
) -> LoadResult:
    """Send at most ``max_requests`` POSTs of ``bodies`` to ``url`` (127.0.0.1 only) for at most ``max_seconds``.

    ``check(response)`` returns None for a good answer or a description of what is wrong (counted as an error).
    """
    _check_local(url)
    return asyncio.run(_run(url, bodies, concurrency, max_requests, max_seconds, check))
