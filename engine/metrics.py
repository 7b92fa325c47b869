"""Prometheus metrics of one engine instance (own registry, so test apps do not collide)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

STAGES = ("asr", "emotion", "policy", "tts_first", "tts", "transcribe", "synthesize")
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20)


class Metrics:
    """Counters, gauges and histograms the engine updates; exported at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.stage_seconds = Histogram(
            "tingshuo_stage_seconds",
            "Latency of one pipeline stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.voice_to_voice_seconds = Histogram(
            "tingshuo_voice_to_voice_seconds",
            "End of user speech (endpoint) to first reply audio frame queued",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.active_sessions = Gauge(
            "tingshuo_active_sessions", "Open WebSocket sessions", ["endpoint"], registry=r
        )
        self.queue_depth = Gauge(
            "tingshuo_queue_depth", "Model jobs waiting for or running on a worker", registry=r
        )
        self.queue_waiting = Gauge(
            "tingshuo_queue_waiting",
            "Model jobs queued (not started) by priority class",
            ["priority"],
            registry=r,
        )
        self.workers_busy = Gauge(
            "tingshuo_workers_busy", "Model jobs running on a worker now", registry=r
        )
        self.running = Gauge(
            "tingshuo_running",
            "Model jobs running on a worker now, by priority class",
            ["priority"],
            registry=r,
        )
        self.requests_in_flight = Gauge(
            "tingshuo_requests_in_flight",
            "HTTP model requests admitted and not finished",
            registry=r,
        )
        self.rejected = Counter(
            "tingshuo_rejected",
            "Work refused by admission control (503 overloaded) by priority class",
            ["priority"],
            registry=r,
        )
        self.scheduled = Counter(
            "tingshuo_scheduled_jobs",
            "Model jobs by priority class and outcome (done failed expired)",
            ["priority", "outcome"],
            registry=r,
        )
        self.saturated = Gauge(
            "tingshuo_saturated",
            "1 while new HTTP model requests are refused (admission control)",
            registry=r,
        )
        self.outbound_depth = Gauge(
            "tingshuo_outbound_queue_depth", "Server events queued for slow readers", registry=r
        )
        self.errors = Counter("tingshuo_errors", "Errors by kind", ["kind"], registry=r)
        self._cache_collector = _CacheCollector()
        r.register(self._cache_collector)
        self.barge_ins = Counter(
            "tingshuo_barge_ins", "Replies interrupted by the user", registry=r
        )
        self.jobs = Counter("tingshuo_jobs", "Long-text jobs by outcome", ["status"], registry=r)
        self.batch_size = Histogram(
            "tingshuo_batch_size",
            "Items per batched inference call",
            buckets=(1, 2, 3, 4, 6, 8, 16),
            registry=r,
        )

    def watch_cache(self, synthesizer: object) -> None:
        """Export the hit/miss counts of a synthesizer's cache (``.cache.hits`` / ``.misses``)."""
        self._cache_collector.cache = getattr(synthesizer, "cache", None)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Observe the duration of the ``with`` block under ``stage``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds.labels(stage).observe(time.perf_counter() - t0)

    def export(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class _CacheCollector(Collector):
    """Reads the synthesis cache's own counters at scrape time."""

    def __init__(self) -> None:
        self.cache: object | None = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        hits = CounterMetricFamily("tingshuo_cache_hits", "Synthesis cache hits")
        misses = CounterMetricFamily("tingshuo_cache_misses", "Synthesis cache misses")
        hits.add_metric([], float(getattr(self.cache, "hits", 0)))
        misses.add_metric([], float(getattr(self.cache, "misses", 0)))
        yield hits
        yield misses
