"""The district receiver's Prometheus endpoint: `GET /metrics` on `[metrics] listen`.

What one receiver process did since it started: records committed by outcome (their rate
is the receiver's records/s), batches, the time to commit a batch and the time from a
batch's arrival to its ack being handed to the MQTT client, and every rejection by its
reason (a refused batch counts once, a rejected record once). `checkpoint_district_devices`
counts the registry's devices online and offline, read from the district store at each
scrape over a connection of the scrape's own thread (the receiver's stays its own); while
the store cannot be read, that one metric is left out and the connection made again. With
several receiver processes, each serves its own figures: sum them in Prometheus.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from runtime import logs

COMMIT_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
PREFIX = "checkpoint_district"


class ReceiverMetrics:
    def __init__(self, store_url: str | None = None) -> None:
        self.registry = registry = CollectorRegistry()
        self.records = Counter(f"{PREFIX}_records", "records of committed batches, by outcome",
                               ["outcome"], registry=registry)
        self.batches = Counter(f"{PREFIX}_batches", "batches committed and acked",
                               registry=registry)
        self.rejections = Counter(f"{PREFIX}_rejections", "refused batches and rejected "
                                  "records, by reason", ["reason"], registry=registry)
        self.commit_s = Histogram(f"{PREFIX}_batch_commit_seconds", "time to commit a batch",
                                  buckets=COMMIT_BUCKETS_S, registry=registry)
        self.ack_s = Histogram(f"{PREFIX}_ack_seconds", "from a batch's arrival to its ack",
                               buckets=COMMIT_BUCKETS_S, registry=registry)
        for outcome in ("accepted", "duplicate", "rejected"):
            self.records.labels(outcome)        # present at 0 from the first scrape
        if store_url is not None:
            registry.register(_DevicesCollector(store_url))

    def committed(self, accepted: int, duplicates: int, reasons: list[str],
                  commit_s: float, ack_s: float) -> None:
        """One batch committed and acked."""
        self.batches.inc()
        self.records.labels("accepted").inc(accepted)
        self.records.labels("duplicate").inc(duplicates)
        self.records.labels("rejected").inc(len(reasons))
        for reason in reasons:
            self.rejections.labels(reason).inc()
        self.commit_s.observe(commit_s)
        self.ack_s.observe(ack_s)

    def refused(self, reason: str) -> None:
        """A whole batch refused (it could not be read, or was not a batch)."""
        self.rejections.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _DevicesCollector:
    """The registry's devices by online state, read at each scrape."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._store = None      # opened on the scraping thread, kept for the next scrape

    def collect(self):
        try:
            devices = self._devices()
        except Exception as exc:    # the store is down: the other figures still count
            logs.event("metrics_devices_failed", logging.WARNING, error=repr(exc))
            self._close()
            return
        family = GaugeMetricFamily(f"{PREFIX}_devices", "devices in the registry, by state",
                                   labels=["state"])
        online = sum(1 for device in devices if device["online"])
        family.add_metric(["online"], online)
        family.add_metric(["offline"], len(devices) - online)
        yield family

    def _devices(self) -> list[dict]:
        from district.stores import open_store

        if self._store is None:
            self._store = open_store(self.store_url)
        return self._store.devices()

    def _close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:   # a connection already broken: nothing left to close
                pass
