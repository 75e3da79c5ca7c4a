"""The agent's Prometheus endpoint: `GET /metrics` on `[metrics] listen`, in the text format.

Nothing here keeps a second copy of the agent's state: a custom collector reads, at each
scrape, what the status message reports (Agent.health(), the uplink's backlog, the trust
in force). Only what the agent does not keep is counted here: committed decisions by
outcome and reason (a listener on the controller, its totals also in the status
`counters`) and each frame's decode time (a histogram fed by the scanner).

The HTTP side is runtime/metrics_http.py, shared with the district receiver. See
docs/observability.md for every metric.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from models.timefmt import parse_rfc3339
from runtime.version import VERSION

DECODE_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
DECISIONS = ("pass", "deny", "check")
PARTS = ("camera", "thermal", "gate", "reader")
# Status counters that are not monotonic counts, or that have a metric of their own.
NOT_COUNTS = frozenset({"decode_ms", *(f"decisions_{d}" for d in DECISIONS)})


class DecisionCounts:
    """Committed decisions since start, by outcome and by (outcome, reason); called by the
    controller for every record it commits (Controller.listeners)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: Counter = Counter()
        self._reasons: Counter = Counter()

    def __call__(self, record, _name=None) -> None:
        with self._lock:
            self._decisions[record.decision] += 1
            for reason in record.reasons:
                self._reasons[(record.decision, reason)] += 1

    def snapshot(self) -> tuple[dict, dict]:
        with self._lock:
            return dict(self._decisions), dict(self._reasons)

    def counters(self) -> dict[str, int]:
        """For the status message: every outcome, zero included, so the keys are stable."""
        decisions, _ = self.snapshot()
        return {f"decisions_{d}": decisions.get(d, 0) for d in DECISIONS}


class AgentCollector:
    """Reads the running agent at each scrape (prometheus_client's custom collector)."""

    def __init__(self, agent, decisions: DecisionCounts) -> None:
        self.agent = agent
        self.decisions = decisions

    def collect(self):
        agent = self.agent
        health = agent.health()
        yield InfoMetricFamily("checkpoint", "the program and the gate it serves",
                               value={"version": VERSION, "device": agent.config.device.id,
                                      "gate": agent.config.device.gate})
        yield from self._decisions()
        yield from self._outbox(agent)
        yield from self._parts(health)
        yield from self._counters(health.get("counters", {}))
        yield from self._trust(agent, health)
        yield from self._system(agent)

    def _decisions(self):
        decisions, reasons = self.decisions.snapshot()
        total = CounterMetricFamily("checkpoint_decisions", "decisions committed since start",
                                    labels=["decision"])
        for decision in DECISIONS:
            total.add_metric([decision], decisions.get(decision, 0))
        yield total
        by_reason = CounterMetricFamily(
            "checkpoint_decision_reasons", "reasons of the decisions committed since start "
            "(a decision with two reasons counts under each)", labels=["decision", "reason"])
        for (decision, reason), count in sorted(reasons.items()):
            by_reason.add_metric([decision, reason], count)
        yield by_reason

    def _outbox(self, agent):
        count, oldest = agent.sync.backlog if agent.sync else (0, None)
        yield GaugeMetricFamily("checkpoint_backlog_records",
                                "records not yet acknowledged by the district", value=count)
        age = 0.0 if oldest is None else max(0.0, agent.clock.now() - parse_rfc3339(oldest))
        yield GaugeMetricFamily("checkpoint_oldest_unsynced_age_seconds",
                                "age of the oldest unacknowledged record; 0 when none waits",
                                value=age)
        connected = bool(agent.sync and agent.sync.connected)
        yield GaugeMetricFamily("checkpoint_mqtt_connected", "1 while connected to the broker",
                                value=int(connected))

    def _parts(self, health: dict):
        state = GaugeMetricFamily("checkpoint_part_state", "health of each driver, as the "
                                  "status says it (1 for the current state)",
                                  labels=["part", "state"])
        ok = GaugeMetricFamily("checkpoint_part_ok", "1 when the driver's health is ok",
                               labels=["part"])
        for part in PARTS:
            value = health.get(part)
            if value is None:       # no card reader configured
                continue
            state.add_metric([part, value], 1)
            ok.add_metric([part], int(value == "ok"))
        yield state
        yield ok
        workers = GaugeMetricFamily("checkpoint_worker_up", "1 while the supervised thread "
                                    "runs", labels=["worker"])
        for name, value in sorted(health.get("workers", {}).items()):
            workers.add_metric([name], int(value == "running"))
        yield workers
        alarm = health.get("alarm")
        raised = GaugeMetricFamily("checkpoint_alarm", "1 while the status alarm is raised, "
                                   "labelled with it (none: no alarm)", labels=["alarm"])
        raised.add_metric([alarm or "none"], int(alarm is not None))
        yield raised

    def _counters(self, counters: dict):
        for name, value in sorted(counters.items()):
            if name in NOT_COUNTS or not isinstance(value, int):
                continue
            yield CounterMetricFamily(f"checkpoint_{name}", _HELP.get(name, f"status "
                                      f"counter {name}, since start"), value=value)

    def _trust(self, agent, health: dict):
        versions = GaugeMetricFamily("checkpoint_bundle_version", "version of each signed "
                                     "bundle in force", labels=["kind"])
        for kind in ("trustlist", "revocations", "policy", "roster"):
            version = health.get(f"{kind}_version")
            if version is not None:
                versions.add_metric([kind], version)
        yield versions
        trust = agent.controller.trust if agent.controller else None
        if trust is not None:
            stale = trust.stale(trust.effective_now(agent.clock.now()))
            yield GaugeMetricFamily("checkpoint_trust_stale", "1 when a bundle is past its "
                                    "next_update (decisions say trust_stale)", value=int(stale))

    def _system(self, agent):
        yield GaugeMetricFamily("checkpoint_clock_synced", "1 when the wall clock is "
                                "NTP-synchronised", value=int(agent.clock.synced()))
        folder = Path(agent.config.store.path).parent
        yield GaugeMetricFamily("checkpoint_disk_free_bytes", "free space on the filesystem "
                                "holding the store", value=shutil.disk_usage(folder).free)


_HELP = {
    "frames_dropped": "camera frames replaced before the scanner read them",
    "frames_captured": "camera frames captured",
    "frames_decoded": "camera frames the scanner decoded",
    "sensor_frames_rejected": "sensor frames refused (checksum, range or grammar)",
    "worker_errors": "steps of a supervised thread that raised; the thread went on after "
                     "a pause (a thread that dies restarts the whole service instead)",
}


class Metrics:
    """The registry the endpoint serves, and the two things counted for it."""

    def __init__(self, agent, decisions: DecisionCounts) -> None:
        self.registry = CollectorRegistry()
        self.decisions = decisions
        self.decode_seconds = Histogram(
            "checkpoint_decode_seconds", "time to decode one camera frame",
            buckets=DECODE_BUCKETS_S, registry=self.registry)
        self.registry.register(AgentCollector(agent, self.decisions))
        ProcessCollector(registry=self.registry)    # start time (restarts), memory, CPU

    def decoded(self, ms: float) -> None:
        self.decode_seconds.observe(ms / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
