"""Signed bundles the district pushes, taken off the wire on their own supervised thread.

A bundle topic is a hostile channel: anyone on a development broker, or a compromised
production broker, can publish there, and a retained message comes back on every
reconnect. So a bundle never waits in the controller's queue (a flood of them would push
the scans out): each topic keeps only its latest message (which is what the broker
retains anyway), and the "bundles" worker verifies one at a time and swaps the trust
state the controller judges by. What it refuses is logged as `bundle_refused` with the
reason, once: the same bytes refused again for the same reason (a retained message after
a reconnect) are judged again, since the reason may have passed (a full disk), and
counted, but not logged again; a flood of distinct junk on a topic is logged 1st, 2nd,
4th, 8th... time (runtime/logs.py worth_logging), and counted in status.

A bundle issued later than this device's synchronised clock allows (MAX_ISSUE_SKEW_S) is
refused: its `issued` would become the floor of the time passes are judged by
(edge/trust.py effective_now) and expire every pass at the gate.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from edge.trust import TrustError, TrustState
from models.bundle import MAX_ENVELOPE_BYTES
from runtime import logs
from runtime.worker import Worker

MAX_ISSUE_SKEW_S = 300.0    # how far ahead of a synced clock a bundle's `issued` may be
REMEMBERED = 16             # refusals remembered per topic, so that each is logged once


class Bundles:
    def __init__(self, holder, clock, *, on_applied: Callable[[], None] | None = None) -> None:
        """`holder` has a `trust` attribute (the controller): the state in force."""
        self.holder = holder
        self.clock = clock
        self.on_applied = on_applied        # the bundle versions in status changed
        self.received = 0
        self.superseded = 0     # replaced by a newer message on its topic before judged
        self.refused = 0
        self._latest: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        # per topic (a device takes bundles from three), so a flood on one topic cannot
        # push out what another topic's retained message was refused for
        self._refused: dict[str, OrderedDict[bytes, None]] = {}
        self._distinct: dict[str, int] = {}     # distinct refusals per topic
        self.worker = Worker("bundles", self._round)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stopping.set()
        self._ready.set()
        self.worker.stop()

    def submit(self, topic: str, payload: bytes) -> None:
        """Called on paho's network thread: keep the message, wake the worker; no parsing."""
        with self._lock:
            self.received += 1
            if topic in self._latest:
                self.superseded += 1
            self._latest[topic] = bytes(payload[:MAX_ENVELOPE_BYTES + 1])
        self._ready.set()

    def _round(self) -> None:
        self._ready.wait()
        self._ready.clear()
        with self._lock:
            waiting, self._latest = self._latest, {}
        for topic, payload in waiting.items():
            if self.worker.stopping.is_set():
                return
            try:
                self.apply(topic, payload)
            except Exception as exc:    # a bug on one topic must not drop the others
                self.refused += 1
                logs.event("bundle_failed", logging.ERROR, topic=topic, error=repr(exc)[:200])

    def apply(self, topic: str, payload: bytes) -> bool:
        """Judge one bundle; True when it is now in force (or already was)."""
        now = self.clock.now() if self.clock.synced() else None
        trust: TrustState = self.holder.trust
        try:
            state = trust.apply_bundle(payload, now=now, max_skew_s=MAX_ISSUE_SKEW_S)
        except TrustError as exc:
            self._refuse(payload, topic, exc)
            return False
        if state is not trust:
            self.holder.trust = state
            if self.on_applied:
                self.on_applied()
        return True

    def _refuse(self, payload: bytes, topic: str, error: TrustError) -> None:
        self.refused += 1
        said = hashlib.sha256(payload + b"\0" + str(error).encode()).digest()
        remembered = self._refused.setdefault(topic, OrderedDict())
        if said in remembered:
            remembered.move_to_end(said)
            return
        remembered[said] = None
        if len(remembered) > REMEMBERED:
            remembered.popitem(last=False)
        distinct = self._distinct[topic] = self._distinct.get(topic, 0) + 1
        if logs.worth_logging(distinct):    # a flood of distinct junk is sampled
            logs.event("bundle_refused", logging.WARNING, topic=topic, kind=error.kind,
                       reason=error.reason, kept=error.kept, refused_here=distinct)

    def counters(self) -> dict:
        return {"bundles_received": self.received, "bundles_superseded": self.superseded,
                "bundles_refused": self.refused}
