"""Many observations added to a prometheus_client histogram at once (one update per bucket, not per value).

In multiprocess mode (BentoML's workers) each histogram update takes a lock and writes to a memory-mapped file,
about 4 microseconds per observation (two updates each), which for 100-record requests cost more than the rest of
the service's metrics together. prometheus_client has no bulk observe, so :func:`observe_many` counts the values
per bucket with numpy and adds the counts to the histogram's own ``_upper_bounds``, ``_buckets`` and ``_sum``
values (unchanged since prometheus_client 0.4). Serving must never fail for a metric, so if they are gone it
falls back to ``observe`` per value; :func:`check` (run by tests/adapters) fails naming the installed version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry, Histogram

from gitops_ml.adapters import broken

DISTRIBUTION = "prometheus-client"
ADAPTER = "src/gitops_ml/adapters/prometheus_histogram.py"
ATTRIBUTES = ("_upper_bounds", "_buckets", "_sum")


def _parts(histogram: Histogram) -> tuple[list[float], list[Any], Any] | None:
    """The histogram's bucket bounds, bucket values and sum value, or None if they are not where expected."""
    bounds, buckets, total = (getattr(histogram, name, None) for name in ATTRIBUTES)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        return None
    if not all(hasattr(value, "inc") for value in (*buckets, total)):
        return None
    return list(bounds), list(buckets), total


def check() -> None:
    """Raise :class:`~gitops_ml.errors.PrivateApiError` unless a histogram still keeps its buckets as expected."""
    probe = Histogram("adapter_probe", "probe", buckets=(0.5, 1.0), registry=CollectorRegistry())
    if _parts(probe) is None:
        raise broken(DISTRIBUTION, "Histogram." + "/".join(ATTRIBUTES), ADAPTER, "not found with an inc() method")


def observe_many(histogram: Histogram, values: NDArray[np.floating[Any]]) -> None:
    """``histogram.observe(v)`` for every ``v`` in ``values`` (a labelled child, or a histogram without labels)."""
    parts = _parts(histogram)
    if parts is None:
        for value in values.tolist():
            histogram.observe(value)
        return
    bounds, buckets, total = parts
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for index in np.flatnonzero(counts).tolist():
        buckets[index].inc(int(counts[index]))
    total.inc(float(values.sum()))
