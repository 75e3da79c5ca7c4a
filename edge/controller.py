"""The controller: the single writer. It decides, commits, then signals the gate.

Scans (and later guard actions and district messages) arrive on one queue and are handled
one at a time by one thread, so the store, the gate and the replay memory never see two
writers. A decision is committed to SQLite before the gate opens: a power cut can lose a
gate opening, never the record of it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from drivers.base import Gate
from edge import logs
from edge.policy import Context, Decision, Measurement, decide
from edge.scanner import Scan
from edge.store import Store, StoreError
from edge.trust import TrustError
from models.ids import uuid7
from models.passes import Verdict
from models.records import Record
from models.timefmt import rfc3339
from models.verify import verify_pass

# Longest wait for a temperature once a code is read: long enough for the two 1 s
# windows a reading near the fever threshold needs after a person steps up.
MEASURE_WAIT_S = 2.5


@dataclass(frozen=True)
class BundleUpdate:
    """A signed bundle the district pushed (trust list, revocations or policy)."""

    payload: bytes


@dataclass(frozen=True)
class Outcome:
    """What one scan led to, for listeners (the console, the latency bench, tests)."""

    record: Record
    scan: Scan
    committed_mono: float


class Controller:
    def __init__(self, *, store: Store, trust, thermal, gate: Gate, clock, gate_name: str,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 on_commit: Callable[[], None] | None = None,
                 measure_wait_s: float = MEASURE_WAIT_S) -> None:
        self.store = store
        self.trust = trust
        self.thermal = thermal
        self.gate = gate
        self.clock = clock
        self.gate_name = gate_name
        self.on_outcome = on_outcome
        self.on_commit = on_commit      # wakes the uplink: a new record waits in the outbox
        self.measure_wait_s = measure_wait_s
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)

    def submit(self, item: Scan | BundleUpdate) -> None:
        self._queue.put(item)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BundleUpdate):
                self.apply_bundle(item.payload)
            else:
                self.handle_scan(item)

    def apply_bundle(self, payload: bytes) -> None:
        """Put a pushed bundle in force; a refused one (logged) leaves the old in force."""
        try:
            self.trust = self.trust.apply_bundle(payload)
        except TrustError:
            pass    # apply_bundle logged why; the previous bundle stays in force

    def _measure(self, policy) -> Measurement:
        if self.thermal is None:
            return Measurement("missing")
        return self.thermal.wait_measurement(self.measure_wait_s, policy)

    def handle_scan(self, scan: Scan) -> Record:
        trust = self.trust      # one trust state for the whole decision, even if swapped
        now = self.clock.now()
        judged = trust.effective_now(now)   # never before the newest bundle's issue time
        policy = trust.policy
        verdict = verify_pass(scan.text, trust.store, judged, policy.max_pass_lifetime_s)
        context = Context(
            clock_synced=self.clock.synced(),
            trust_stale=trust.stale(judged),
            already_passed=bool(verdict.cti) and self.store.has_passed(verdict.cti),
        )
        measurement = self._measure(policy)
        decision = decide(verdict, measurement, policy, context, judged)
        record = self._commit(self._record(verdict, decision, measurement, context, now),
                              verdict)
        if decision.decision == "pass":
            self.gate.open()
        if self.on_commit:
            self.on_commit()
        self._log(record, scan)
        if self.on_outcome:
            self.on_outcome(Outcome(record, scan, self.clock.monotonic()))
        return record

    def _commit(self, record: Record, verdict: Verdict) -> Record:
        """The record with its seq; on a full disk the gate keeps deciding and says so."""
        # Replay memory only for passes with an id (an EU DCC has none: shown daily).
        passed = (verdict.cti, verdict.exp) if record.decision == "pass" and verdict.cti else None
        try:
            return replace(record, seq=self.store.commit(record, passed))
        except StoreError as exc:
            logs.event("record_not_stored", logging.ERROR, id=record.id,
                       decision=record.decision, error=str(exc), alarm=self.store.alarm)
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

