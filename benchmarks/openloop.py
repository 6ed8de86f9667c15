"""An open-loop load generator: requests go out on a fixed Poisson schedule, whatever the responses do.

A closed-loop generator (``loadgen.py``: N clients, each sending its next request when the last one answered)
measures throughput at saturation, and under-reports latency: while the server stalls, its clients stop sending,
so the requests that would have queued behind the stall are never sent and never counted (coordinated omission).
Here the send times are drawn up front (exponential gaps at a fixed rate: Poisson arrivals, seeded), each request
is started at its scheduled time in its own task, without waiting for earlier ones, and its latency is measured
from its *scheduled* send time to its response. If the generator itself falls behind its schedule, that delay
counts against the server too (and is reported as ``send_lag``, so a late generator is visible).

Every run is bounded: at most ``max_requests`` requests, scheduled within ``max_seconds``, each with a timeout.
HTTP targets must be on 127.0.0.1 (aiohttp client, one keep-alive connection per request in flight, at most
:data:`MAX_CONNECTIONS`: beyond that a request waits for a connection, and that wait is counted as latency).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

REQUEST_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 256
Send = Callable[[int], Awaitable[str | None]]
"""``send(i)`` makes request ``i`` and returns None when the answer is right, else what is wrong."""


def poisson_schedule(rate: float, max_requests: int, max_seconds: float, seed: int = 0) -> list[float]:
    """Send offsets (seconds from the start) of Poisson arrivals at ``rate`` per second, bounded in count and time."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    draw = random.Random(seed)
    offsets: list[float] = []
    at = draw.expovariate(rate)
    while len(offsets) < max_requests and at < max_seconds:
        offsets.append(at)
        at += draw.expovariate(rate)
    return offsets


@dataclass(frozen=True)
class OpenLoopResult:
    """What one open-loop run measured (latencies from the scheduled send time, in milliseconds)."""

    rate: float
    scheduled: int
    errors: int
    latencies_ms: list[float]
    send_lag_ms: list[float]
    duration_s: float
    first_error: str | None

    def summary(self) -> dict[str, Any]:
        """p50/p95/p99/max of the successful requests, the error rate, the achieved rate and the generator's lag."""
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        lag = np.array(self.send_lag_ms) if self.send_lag_ms else np.array([0.0])

        def pct(values: np.ndarray, q: float) -> float:
            return round(float(np.percentile(values, q)), 2)

        return {
            "rate": self.rate,
            "requests": self.scheduled,
            "errors": self.errors,
            "error_rate": round(self.errors / self.scheduled, 4) if self.scheduled else 0.0,
            "p50_ms": pct(lat, 50),
            "p95_ms": pct(lat, 95),
            "p99_ms": pct(lat, 99),
            "max_ms": round(float(np.max(lat)), 2),
            "mean_ms": round(float(np.mean(lat)), 2),
            "achieved_per_s": round(self.scheduled / self.duration_s, 1) if self.duration_s else 0.0,
            "send_lag_p99_ms": pct(lag, 99),
            "first_error": self.first_error,
        }


async def run_open_loop(
    send: Send, schedule: list[float], rate: float, timeout_s: float = REQUEST_TIMEOUT_S
) -> OpenLoopResult:
    """Start ``send(i)`` at ``schedule[i]`` seconds (each in its own task) and time it from that scheduled moment."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    first_error: str | None = None

    async def one(i: int, due: float) -> None:
        nonlocal errors, first_error
        lags.append((loop.time() - due) * 1000)
        try:
            problem = await asyncio.wait_for(send(i), timeout_s)
        except TimeoutError:
            problem = f"no answer within {timeout_s} s"
        except Exception as exc:  # a refused connection, a reset: the request failed, the run goes on
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            latencies.append((loop.time() - due) * 1000)
        else:
            errors += 1
            first_error = first_error or problem

    start = loop.time() + 0.05
    tasks = []
    for i, offset in enumerate(schedule):
        due = start + offset
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, due)))
    await asyncio.gather(*tasks)
    return OpenLoopResult(rate, len(schedule), errors, latencies, lags, loop.time() - start, first_error)


def check_local(url: str) -> None:
    """Refuse any target that is not this machine."""
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests only target 127.0.0.1; refusing {url}")


Check = Callable[[int, bytes], str | None]
"""``check(status, body)``: None for a right answer, else what is wrong."""


def ok_status(status: int, body: bytes) -> str | None:
    """The default check: HTTP 200."""
    return None if status == 200 else f"HTTP {status}: {body[:300]!r}"


async def http_open_loop(
    url: str,
    bodies: list[bytes],
    schedule: list[float],
    rate: float,
    check: Check = ok_status,
    warmup: int = 5,
    headers: dict[str, str] | None = None,
) -> OpenLoopResult:
    """POST ``bodies[i % len(bodies)]`` to ``url`` (127.0.0.1 only) on ``schedule``; ``warmup`` requests go first.

    ``headers`` go with every request (an ``Authorization`` header, say), beside the JSON content type.
    """
    import aiohttp

    check_local(url)
    headers = {"content-type": "application/json"} | (headers or {})
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(i: int) -> str | None:
            async with session.post(url, data=bodies[i % len(bodies)], headers=headers) as response:
                body = await response.read()
                return ok_status(response.status, body) or check(response.status, body)

        for i in range(warmup):
            await send(i)
        return await run_open_loop(send, schedule, rate)


def run_http(
    url: str,
    bodies: list[bytes],
    schedule: list[float],
    rate: float,
    check: Check = ok_status,
    headers: dict[str, str] | None = None,
) -> OpenLoopResult:
    """:func:`http_open_loop` in a new event loop."""
    return asyncio.run(http_open_loop(url, bodies, schedule, rate, check, headers=headers))
