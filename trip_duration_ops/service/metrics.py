"""The service's Prometheus metrics (prometheus-client), served at GET /metrics.

With several uvicorn workers each process writes its values to files in PROMETHEUS_MULTIPROC_DIR
(`trip-duration serve` makes a fresh folder for every start) and /metrics, whichever worker answers
it, adds them up: counters and histograms are summed over the workers, and the per-worker gauges
(ready, the model serving, the last poll) carry a `pid` label. Without that variable (a service
built in process, as the tests do) the values live in this process's own registry.

Names, labels and what each means: docs/operations.md. The alert rules over them:
ops/prometheus/alerts.yml.
"""

import contextlib
import glob
import math
import os
import re
import time
from collections.abc import Sequence

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Fine below 10 ms, where /predict answers: a p99 of a few milliseconds reads from these.
LATENCY = (0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
           0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip
TRIPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
# One-minute steps up to a quarter hour, where most trips' predictions fall, so that a median
# moving by a minute or two shows.
MINUTES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 25, 30, 35, 40, 50, 60, 90, 120)

REFERENCE = "trip_duration_model_reference_median_minutes"
OPTIONAL = {
    REFERENCE: ("Median minutes the serving model predicted on its validation month (from its manifest)"),
    "trip_duration_poll_success_timestamp_seconds": (
        "Unix time of this worker's last successful check of the deployment's manifest"
    ),
    "trip_duration_poll_interval_seconds": "Seconds between this worker's checks of the deployment manifest",
}


def multiprocess_dir() -> str | None:
    """The folder the workers share their values in, when the service runs in that mode."""
    return os.environ.get(MULTIPROCESS) or None


class Metrics:
    """The metrics one service process records; `render()` is the text /metrics answers."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "trip_duration_http_requests", "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "trip_duration_http_request_duration_seconds",
            "Seconds from a request's arrival to the last byte of its answer, by route template",
            ["route"], buckets=LATENCY, registry=registry,
        )  # fmt: skip
        self.request_trips = Histogram(
            "trip_duration_request_trips", "Trips per /predict request answered with predictions",
            buckets=TRIPS, registry=registry,
        )  # fmt: skip
        self.batch_trips = Histogram(
            "trip_duration_batch_trips", "Trips per model call: the batches the batcher forms",
            buckets=(*TRIPS, 20000), registry=registry,
        )  # fmt: skip
        self.trips = Counter("trip_duration_trips", "Trips scored", registry=registry)
        self.unseen = Counter(
            "trip_duration_unseen_zone_trips",
            "Trips scored whose zone pair (or zone) the model never saw in training",
            registry=registry,
        )
        self.minutes = Histogram(
            "trip_duration_predicted_minutes", "Minutes predicted, one observation per trip",
            buckets=MINUTES, registry=registry,
        )  # fmt: skip
        self.info = Gauge(
            "trip_duration_model_info", "1 for the model serving in this worker, 0 for one it replaced",
            ["name", "version", "md5"], registry=registry, multiprocess_mode="liveall",
        )  # fmt: skip
        self.swaps = Counter("trip_duration_model_swaps", "Models swapped in (the first load included)",
                             registry=registry)  # fmt: skip
        self.refused = Counter(
            "trip_duration_deployments_refused",
            "Deployments refused: the model failed to load or its probe",
            registry=registry,
        )
        self.ready = Gauge(
            "trip_duration_ready", "1 when this worker answers /ready with 200, else 0",
            registry=registry, multiprocess_mode="liveall",
        )  # fmt: skip
        # Gauges that only some services have: made when first set, so that a service without a
        # poll or a reference shows none (a multiprocess gauge shows 0 from its making).
        self._gauges: dict[str, Gauge] = {}
        self._served: tuple[str, str, str] | None = None

    # --- what the service calls ------------------------------------------------------------------

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def scored(self, minutes: np.ndarray, unseen: int | None) -> None:
        """One model call: its batch, its trips, their predicted minutes, and how many were unseen."""
        self.batch_trips.observe(len(minutes))
        self.trips.inc(len(minutes))
        if unseen:
            self.unseen.inc(unseen)
        observe_many(self.minutes, minutes)

    def serving(self, manifest: dict) -> None:
        """A model swapped in: the info metric moves to it, its reference median is set."""
        labels = tuple(str(manifest.get(key)) for key in ("name", "version", "md5"))
        if self._served is not None and self._served != labels:
            self.info.labels(*self._served).set(0)
        self.info.labels(*labels).set(1)
        self._served = labels  # type: ignore[assignment]
        self.swaps.inc()
        median = (manifest.get("reference") or {}).get("predicted_minutes_median")
        if not isinstance(median, int | float) or isinstance(median, bool):
            median = math.nan  # this model has none: no alert compares with it
        if not math.isnan(median) or REFERENCE in self._gauges:
            self.gauge(REFERENCE).set(median)

    def checked(self) -> None:
        """The deployment's manifest was checked."""
        self.gauge("trip_duration_poll_success_timestamp_seconds").set(time.time())

    def polls_every(self, seconds: float) -> None:
        self.gauge("trip_duration_poll_interval_seconds").set(seconds)

    def gauge(self, name: str) -> Gauge:
        """One of the per-worker gauges in OPTIONAL, made on first use."""
        if name not in self._gauges:
            self._gauges[name] = Gauge(
                name, OPTIONAL[name], registry=self.registry, multiprocess_mode="liveall"
            )
        return self._gauges[name]

    def render(self) -> bytes:
        """The text /metrics answers: every worker's values when they share a folder, else this one's."""
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
        return generate_latest(registry)


def observe_many(histogram: Histogram, values: Sequence[float] | np.ndarray) -> None:
    """Histogram.observe for each value, as one increment per bucket.

    prometheus-client stores a histogram as a count per bucket (made cumulative when it is read)
    plus a sum; a batch of thousands of trips is then a few increments instead of one call per trip.
    """
    finite = np.asarray(values, dtype=np.float64)
    if finite.size <= 8:  # a few values: observe's own loop beats numpy's call costs
        for value in finite[np.isfinite(finite)].tolist():
            histogram.observe(value)
        return
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return
    bounds = np.asarray(histogram._upper_bounds, dtype=np.float64)
    counts = np.bincount(np.searchsorted(bounds, finite, side="left"), minlength=bounds.size)
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(int(count))
    histogram._sum.inc(float(finite.sum()))


WORKER_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def forget(pid: int) -> None:
    """Drop a worker's per-process gauges (at its shutdown), so /metrics stops showing it."""
    if (folder := multiprocess_dir()) is not None:
        multiprocess.mark_process_dead(pid, folder)


def forget_dead_workers() -> None:
    """Drop the per-process gauges of workers that died without shutting down (uvicorn starts another)."""
    folder = multiprocess_dir()
    if folder is None:
        return
    for path in glob.glob(os.path.join(folder, "gauge_live*.db")):
        found = WORKER_FILE.search(path)
        if found is None:
            continue
        pid = int(found.group(1))
        if not alive(pid):
            with contextlib.suppress(FileNotFoundError):  # another worker dropped it first
                multiprocess.mark_process_dead(pid, folder)


def alive(pid: int) -> bool:
    """Whether a process `pid` exists (signal 0 checks without sending; someone else's is alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
