"""The controller: the single writer. It decides, commits, then signals the gate.

Scans (and later guard actions and district messages) arrive on one queue and are handled
one at a time by one thread, so the store, the gate and the replay memory never see two
writers. A decision is committed to SQLite before the gate opens: a power cut can lose a
gate opening, never the record of it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from drivers.base import Gate
from edge import logs
from edge.policy import Context, Decision, Measurement, decide
from edge.scanner import Scan
from edge.store import Store
from models.ids import uuid7
from models.passes import Verdict
from models.records import Record
from models.timefmt import rfc3339
from models.verify import verify_pass

MEASURE_WAIT_S = 0.8    # longest wait for a temperature once a code is read


@dataclass(frozen=True)
class Outcome:
    """What one scan led to, for listeners (the console, the latency bench, tests)."""

    record: Record
    scan: Scan
    committed_mono: float


class Controller:
    def __init__(self, *, store: Store, trust, thermal, gate: Gate, clock, gate_name: str,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 measure_wait_s: float = MEASURE_WAIT_S) -> None:
        self.store = store
        self.trust = trust
        self.thermal = thermal
        self.gate = gate
        self.clock = clock
        self.gate_name = gate_name
        self.on_outcome = on_outcome
        self.measure_wait_s = measure_wait_s
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)

    def submit(self, item: Scan) -> None:
        self._queue.put(item)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self.handle_scan(item)

    def _measure(self) -> Measurement:
        if self.thermal is None:
            return Measurement("missing")
        return self.thermal.wait_measurement(self.measure_wait_s)

    def handle_scan(self, scan: Scan) -> Record:
        now = self.clock.now()
        policy = self.trust.policy
        verdict = verify_pass(scan.text, self.trust.store, now, policy.max_pass_lifetime_s)
        measurement = self._measure()
        context = Context(
            clock_synced=self.clock.synced(),
            trust_stale=self.trust.stale(now),
            already_passed=bool(verdict.cti) and self.store.has_passed(verdict.cti),
        )
        decision = decide(verdict, measurement, policy, context, now)
        record = self._record(verdict, decision, measurement, context, now)
        passed = (verdict.cti, verdict.exp) if decision.decision == "pass" else None
        record = replace(record, seq=self.store.commit(record, passed))
        if decision.decision == "pass":
            self.gate.open()
        self._log(record, scan)
        if self.on_outcome:
            self.on_outcome(Outcome(record, scan, self.clock.monotonic()))
        return record

    def _record(self, verdict: Verdict, decision: Decision, measurement: Measurement,
                context: Context, now: float) -> Record:
        return Record(
            id=uuid7(int(now * 1000)), ts=rfc3339(now), clock_synced=context.clock_synced,
            gate=self.gate_name, decision=decision.decision, reasons=decision.reasons,
            pass_format=verdict.format, issuer=verdict.issuer, kid=verdict.kid,
            subject=verdict.subject, color=verdict.color,
            pass_exp=_time(verdict.exp), tested_at=_time(verdict.tested_at),
            temperature_c=measurement.temperature_c,
        )

    def _log(self, record: Record, scan: Scan) -> None:
        latency_ms = (self.clock.monotonic() - scan.t_mono) * 1000.0
        logs.event("decision", seq=record.seq, decision=record.decision,
                   reasons=record.reasons, color=record.color,
                   temperature_c=record.temperature_c, subject=record.subject,
                   latency_ms=round(latency_ms, 1))


def _time(epoch: int | None) -> str | None:
    return None if epoch is None else rfc3339(epoch)

