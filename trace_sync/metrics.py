"""Operational metrics, exposed at ``/metrics`` in the Prometheus text format.

One :class:`Metrics` per app (its own registry), handed to the store and the
sync endpoint, so two servers in one test process never share counters.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("trace_sync_connections", "Open sync connections", registry=r)
        self.rooms = Gauge("trace_sync_rooms", "Documents loaded in memory", registry=r)
        self.updates_in = Counter("trace_sync_updates_in", "Updates received", registry=r)
        self.updates_out = Counter(
            "trace_sync_updates_out", "Update frames sent to clients", registry=r
        )
        self.bytes_in = Counter("trace_sync_bytes_in", "Bytes received on /sync", registry=r)
        self.bytes_out = Tally("trace_sync_bytes_out", "Bytes sent on /sync", registry=r)
        self.folds = Counter(
            "trace_sync_backlog_folds", "Slow-client backlogs folded into one update", registry=r
        )
        self.queued_frames = Gauge(
            "trace_sync_queued_frames", "Frames waiting in per-client send queues", registry=r
        )
        self.refusals = Counter(
            "trace_sync_refusals", "Connections closed by a refusal", ["code"], registry=r
        )
        self.commit_seconds = Histogram(
            "trace_store_commit_seconds",
            "Store group-commit latency",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.leader = Gauge(
            "trace_leader", "1 while this process runs the cluster's background jobs", registry=r
        )
        self.committed_updates = Counter(
            "trace_store_committed_updates", "Updates committed to the store", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Tally(Collector):
    """A counter for the fan-out path, bumped once per frame and receiver: a
    plain int, read at scrape time. prometheus_client's Counter takes a lock
    on every ``inc``, which cost as much as the rest of a send in Python.
    Only the event loop may bump it."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.value = 0
        self._name = name
        self._documentation = documentation
        registry.register(self)

    def inc(self, amount: int = 1) -> None:
        self.value += amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation)
        family.add_metric([], self.value)
        yield family
