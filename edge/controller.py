"""The controller: the single writer. It decides, commits, then signals the gate.

Scans and guard actions (edge/actions.py) arrive on one bounded queue and are handled
one at a time by one supervised thread, so the store, the gate and the replay memory
never see two writers. The controller remembers its last RECENT decisions, so that a
guard's action can name the one it acts on, and which checks are closed. Bundles the
district pushes do not queue here (edge/bundles.py verifies them on its own thread and
swaps `trust`, which each decision reads once). A decision is committed to SQLite before
the gate opens: a power cut can lose a gate opening, never the record of it.

Cards (edge/cards.py) come as tokens. A scan is decided with the unused taps within the
policy's `card_window_s` of the code; when a tap is all that is missing, the lane waits
for one (bounded by MAX_CARD_WAIT_S), as it waits for a temperature. A tap arrives on the
queue too: alone it is decided only where the policy lets a card pass without a pass
(`require_pass = false`); otherwise it waits for its code. A tap serves one decision.

Nothing one item does may stop the next: a scan whose judging fails (a bug) is recorded
as `check` + `unreadable`, so the guard looks at the phone; a gate that fails to open is
logged with the record it failed for and shows as a fault in status; a listener that
raises is logged. A queue that is full (the controller stuck for a while) drops what
arrives and counts it, instead of growing without bound.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from drivers.base import Gate
from edge import actions
from edge.cards import MAX_CARD_WAIT_S, CardDesk, Tapped, Taps
from edge.policy import (
    CardSeen,
    Context,
    Decision,
    Measurement,
    decide,
    judge_card,
    refused_alone,
)
from edge.scanner import Scan
from edge.store import Store, StoreError
from models import reasons as R
from models.ids import uuid7
from models.passes import Verdict
from models.records import Record
from models.timefmt import rfc3339
from models.verify import verify_pass
from runtime import logs
from runtime.worker import Worker

# Longest wait for a temperature once a code is read: long enough for the two 1 s
# windows a reading near the fever threshold needs after a person steps up.
MEASURE_WAIT_S = 2.5
QUEUE_LEN = 64          # items waiting for the controller; beyond, arrivals are dropped
RECENT = 64             # decisions a guard's action may refer to
DRAIN_S = 5.0           # how long stop() lets the controller finish what is queued


@dataclass(frozen=True)
class Outcome:
    """What one scan led to, for listeners (the console, the latency bench, tests)."""

    record: Record
    scan: Scan
    committed_mono: float
    stages: dict = field(default_factory=dict)  # ms: frame, queue, verify, temperature, commit


def describe(item) -> str:
    """An item as a log line may show it: never the QR text, which can carry a name."""
    if isinstance(item, Scan):
        digest = hashlib.sha256(item.text.encode("utf-8", "replace")).hexdigest()[:12]
        return f"scan chars={len(item.text)} prefix={item.text[:4]!r} sha256={digest}"
    if isinstance(item, actions.Action):
        return f"{type(item).__name__} operator={item.operator} of={item.of}"
    if isinstance(item, Tapped):
        return f"tap kind={item.kind}"
    return type(item).__name__


class Controller:
    def __init__(self, *, store: Store, trust, thermal, gate: Gate, clock, gate_name: str,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 on_commit: Callable[[], None] | None = None,
                 measure_wait_s: float = MEASURE_WAIT_S,
                 verify: Callable[..., Verdict] = verify_pass,
                 taps: Taps | None = None, card_wait_s: float = MAX_CARD_WAIT_S) -> None:
        self.store = store
        self.trust = trust
        self.thermal = thermal
        self.gate = gate
        self.clock = clock
        self.gate_name = gate_name
        self.on_outcome = on_outcome
        self.on_commit = on_commit      # wakes the uplink: a new record waits in the outbox
        # every committed record, with the masked name its pass carries (shown, never stored)
        self.listeners: list[Callable[[Record, str | None], None]] = []
        self._name: str | None = None
        self.measure_wait_s = measure_wait_s
        self.verify = verify
        self.cards = CardDesk(taps, clock, card_wait_s)     # what a decision is shown
        self.dropped = 0            # scans that found the queue full
        self.scans_failed = 0           # scans whose judging raised: recorded as `check`
        self.gate_failures = 0
        self._queue: queue.Queue = queue.Queue(QUEUE_LEN)
        self._closing = threading.Event()
        self._recent: OrderedDict[str, Record] = OrderedDict()  # id -> decision
        self._closed: set[str] = set()          # checks a guard has closed
        # Queued items are (item, when it was queued): the wait in the queue is a stage.
        self.worker = Worker("controller", lambda item: self._handle(*item),
                             take=self._next, describe=lambda item: describe(item[0]))

    @property
    def taps(self) -> Taps | None:
        """The card reader's recent taps; None: no reader."""
        return self.cards.taps

    def submit(self, item: Scan | actions.Action | Tapped) -> bool:
        """Queue a scan or a guard action; False (counted, logged) when the queue is full
        (an action's result then says so)."""
        try:
            self._queue.put_nowait((item, self.clock.monotonic()))
        except queue.Full:
            self.dropped += 1
            logs.event("controller_queue_full", logging.ERROR, dropped=describe(item),
                       scans_dropped=self.dropped)
            if isinstance(item, actions.Action):
                item.result.set_exception(actions.ActionError("busy"))
            return False
        return True

    def _handle(self, item, queued: float):
        if isinstance(item, actions.Action):
            return self.handle_action(item)
        if isinstance(item, Tapped):
            return self.handle_tap(item)
        return self.handle_scan(item, queued)

    def handle_action(self, action: actions.Action) -> Record | None:
        """A guard's action: its record committed (then the gate, on an allow), or its
        result refused with an ActionError; the next item is handled either way."""
        self._stages = {}
        decided = self._recent.get(action.of)
        try:
            decision, reasons, note = actions.judge(
                action, decided, action.of in self._closed, self.trust.policy.operator_override)
        except actions.ActionError as exc:
            logs.event("action_refused", logging.WARNING, action=describe(action),
                       reason=exc.reason)
            action.result.set_exception(exc)
            return None
        card = getattr(action, "card", None)
        if card is not None and not (self.taps and self.taps.use(card)):
            logs.event("action_refused", logging.WARNING, action=describe(action),
                       reason="card_used")
            action.result.set_exception(actions.ActionError("card_used"))
            return None
        now = self.clock.now()
        record = actions.record_for(action, decided, decision, reasons, note,
                                    record_id=uuid7(int(now * 1000)), ts=rfc3339(now),
                                    clock_synced=self.clock.synced())
        record = self._commit(record, None)
        if decided.decision == R.CHECK:
            self._closed.add(decided.id)
        self._act(record, None)
        action.result.set_result(record)
        return record

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        """Finish what is queued (for up to DRAIN_S), then stop."""
        self._closing.set()
        self.worker.join(DRAIN_S)
        self.worker.stop()

    def _next(self):
        try:
            return self._queue.get(timeout=0.2)
        except queue.Empty:
            if self._closing.is_set():
                self.worker.stopping.set()      # everything queued is handled
            return None

    def handle_scan(self, scan: Scan, queued: float | None = None) -> Record:
        """Decide, commit and act on one scan (`queued`: when it entered the queue)."""
        taken = self.clock.monotonic()
        self._stages = {}
        if queued is not None:  # capture to decode start (the frame waiting), then the queue
            waited = _ms(scan.t_mono, queued) - scan.decode_ms
            self._stages = {"frame_ms": round(max(0.0, waited), 1),
                            "queue_ms": _ms(queued, taken)}
        try:
            record, verdict = self._judge(scan)
        except Exception as exc:
            self.scans_failed += 1
            logs.event("scan_failed", logging.ERROR, item=describe(scan), error=repr(exc),
                       decision="check")
            record, verdict = self._unjudged(), None
        committing = self.clock.monotonic()
        record = self._commit(record, verdict)
        self._stages["commit_ms"] = _ms(committing, self.clock.monotonic())
        self._act(record, scan)
        return record

    def _judge(self, scan: Scan) -> tuple[Record, Verdict]:
        """The decision and its record, not yet committed: everything that reads the pass."""
        stages = self._stages
        trust = self.trust      # one trust state for the whole decision, even if swapped
        now = self.clock.now()
        judged = trust.effective_now(now)   # never before the newest bundle's issue time
        policy = trust.policy
        started = self.clock.monotonic()
        verdict = self.verify(scan.text, trust.store, judged, policy.max_pass_lifetime_s)
        self._name = verdict.name
        context = Context(
            clock_synced=self.clock.synced(),
            trust_stale=trust.stale(judged),
            already_passed=bool(verdict.cti) and self.store.has_passed(verdict.cti),
            on_roster=trust.on_roster(verdict.subject),
            cards=trust.cards_of(verdict.subject),
            taps=self.cards.offer(trust, scan.t_mono),
        )
        measuring = self.clock.monotonic()
        stages["verify_ms"] = _ms(started, measuring)
        denied = refused_alone(verdict, policy, context, judged)
        measurement = self._measure(policy, scan.t_mono, denied)
        stages["temperature_ms"] = _ms(measuring, self.clock.monotonic())
        if not denied and self.cards.awaited(policy, context):
            waiting = self.clock.monotonic()
            context = self.cards.await_tap(trust, scan.t_mono, context)
            stages["card_ms"] = _ms(waiting, self.clock.monotonic())
        decision = decide(verdict, measurement, policy, context, judged)
        self.cards.served(decision)
        return self._record(verdict, decision, measurement, context, now), verdict

    def handle_tap(self, tap: Tapped) -> Record | None:
        """A tap with no pass shown: decided alone where the policy lets a resident's card
        pass (`require_pass = false`); otherwise (or once a scan has used it) nothing."""
        trust = self.trust
        policy = trust.policy
        if policy.require_pass or policy.card == "off" or self.taps is None \
                or self.taps.used(tap) or self.taps.guards(tap):
            return None     # it waits for a code, or a guard registering a visitor takes it
        self._stages = {}
        now = self.clock.now()
        judged = trust.effective_now(now)
        seen = CardSeen(tap.token, tap.kind, trust.holder(tap.token))
        context = Context(clock_synced=self.clock.synced(), trust_stale=trust.stale(judged))
        measurement = self._measure(policy, tap.t_mono, denied=seen.holder is None)
        decision = judge_card(seen, measurement, policy, context, judged)
        if decision is None or not self.taps.use(tap):
            return None         # a scan took this tap while the temperature was awaited
        record = Record(
            id=uuid7(int(now * 1000)), ts=rfc3339(now), clock_synced=context.clock_synced,
            gate=self.gate_name, decision=decision.decision, reasons=decision.reasons,
            subject=seen.holder, temperature_c=measurement.temperature_c,
            card=tap.token, card_kind=tap.kind)
        record = self._commit(record, None)
        self._act(record, None)
        return record

    def _measure(self, policy, shown_at: float, denied: bool) -> Measurement:
        """The presenter's temperature; a presentation denied on its own waits for none,
        but its record still carries one that is ready."""
        if self.thermal is None:
            return Measurement("missing")
        wait = 0.0 if denied else self.measure_wait_s
        measurement = self.thermal.wait_measurement(wait, policy, shown_at=shown_at)
        if denied and measurement.state not in ("ok", "sensor_fault"):
            return Measurement("skipped")
        return measurement

    def _unjudged(self) -> Record:
        """The record of a scan that could not be judged: the guard must look."""
        now = self.clock.now()
        return Record(id=uuid7(int(now * 1000)), ts=rfc3339(now),
                      clock_synced=self.clock.synced(), gate=self.gate_name,
                      decision="check", reasons=(R.UNREADABLE,))

    def _commit(self, record: Record, verdict: Verdict | None) -> Record:
        """The record with its seq; on a full disk the gate keeps deciding and says so."""
        # Replay memory only for passes with an id (an EU DCC has none: shown daily).
        passed = None
        if verdict is not None and verdict.cti and record.decision == "pass":
            passed = (verdict.cti, verdict.exp)
        try:
            return replace(record, seq=self.store.commit(record, passed))
        except StoreError as exc:
            logs.event("record_not_stored", logging.ERROR, id=record.id,
                       decision=record.decision, error=str(exc), alarm=self.store.alarm)
            return record

    def _act(self, record: Record, scan: Scan | None) -> None:
        """What follows a committed decision: the gate, the uplink, the log, listeners.
        `scan` is None for a guard's action."""
        self._remember(record)
        if record.decision == "pass":
            self._open_gate(record)
        if self.on_commit:
            self.on_commit()
        self._log(record, scan)
        name, self._name = (self._name if scan is not None else None), None
        for listener in self.listeners:
            try:
                listener(record, name)
            except Exception as exc:    # a page's bug must not undo the decision
                logs.event("listener_failed", logging.ERROR, id=record.id, error=repr(exc))
        if self.on_outcome and scan is not None:
            try:
                self.on_outcome(Outcome(record, scan, self.clock.monotonic(),
                                        dict(self._stages)))
            except Exception as exc:    # a listener's bug must not undo the decision
                logs.event("listener_failed", logging.ERROR, id=record.id, error=repr(exc))

    def _open_gate(self, record: Record) -> None:
        try:
            self.gate.open()
        except Exception as exc:    # the record stands; the guard must let the person in
            self.gate_failures += 1
            logs.event("gate_failed", logging.ERROR, id=record.id, seq=record.seq,
                       error=repr(exc), gate=self.gate.health)

    def _record(self, verdict: Verdict, decision: Decision, measurement: Measurement,
                context: Context, now: float) -> Record:
        return Record(
            id=uuid7(int(now * 1000)), ts=rfc3339(now), clock_synced=context.clock_synced,
            gate=self.gate_name, decision=decision.decision, reasons=decision.reasons,
            pass_format=verdict.format, issuer=verdict.issuer, kid=verdict.kid,
            subject=verdict.subject, color=verdict.color,
            pass_exp=_time(verdict.exp), tested_at=_time(verdict.tested_at),
            temperature_c=measurement.temperature_c,
            card=decision.card.token if decision.card else None,
            card_kind=decision.card.kind if decision.card else None,
        )

    def _remember(self, record: Record) -> None:
        self._recent[record.id] = record
        while len(self._recent) > RECENT:
            gone, _ = self._recent.popitem(last=False)
            self._closed.discard(gone)

    def _log(self, record: Record, scan: Scan | None) -> None:
        if scan is None:
            logs.event("decision", seq=record.seq, decision=record.decision,
                       reasons=record.reasons, operator=record.operator, note=record.note,
                       subject=record.subject, card_kind=record.card_kind)
            return
        latency_ms = (self.clock.monotonic() - scan.t_mono) * 1000.0
        logs.event("decision", seq=record.seq, decision=record.decision,
                   reasons=record.reasons, color=record.color,
                   temperature_c=record.temperature_c, subject=record.subject,
                   card_kind=record.card_kind, latency_ms=round(latency_ms, 1),
                   decode_ms=round(scan.decode_ms, 1), **self._stages)

    def counters(self) -> dict:
        return {"scans_dropped": self.dropped,
                "scans_failed": self.scans_failed, "gate_failures": self.gate_failures}


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 1)


def _time(epoch: int | None) -> str | None:
    return None if epoch is None else rfc3339(epoch)
