"""Prometheus metrics of one server: requests by route and status, latency histograms, the job
queue by status and the live workers (read from the catalog when scraped).

Each app has its own registry (not prometheus-client's global one), so several apps in one process
(tests, or a studio per app) never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.compute.queue import JobService

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _QueueCollector:
    def __init__(self, jobs: JobService, embedded_workers: Callable[[], int]) -> None:
        self.jobs, self.embedded_workers = jobs, embedded_workers

    def describe(self) -> list[Any]:
        return []  # computed at scrape time; nothing to describe up front

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from reelforge.compute.jobs import JobStatus

        counts = self.jobs.counts()
        depth = GaugeMetricFamily("reelforge_jobs", "Jobs in the catalog by status", labels=["status"])
        for status in JobStatus:
            depth.add_metric([status.value], float(counts.get(status.value, 0)))
        yield depth
        yield GaugeMetricFamily("reelforge_workers_alive", "Workers that announced themselves recently",
                                value=float(self.jobs.workers_alive()))
        yield GaugeMetricFamily("reelforge_embedded_workers", "Job workers started by this server",
                                value=float(self.embedded_workers()))


class Metrics:
    def __init__(self, jobs: JobService, embedded_workers: Callable[[], int] = lambda: 0) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("reelforge_http_requests", "HTTP requests by method, route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("reelforge_http_request_duration_seconds", "Time to answer, by method and route",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_QueueCollector(jobs, embedded_workers))  # type: ignore[arg-type]

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
