"""The receiver's writer: what arrives together is committed together, then acked.

The network thread reads and checks each message and makes its rows
(district/receiver.py, SqlStore.prepare) and hands it here; one writer thread takes
everything queued (lingering a few milliseconds for more when it was idle and the flush is
small) and commits the batches in one transaction (SqlStore.commit_prepared). Only after
the commit does it hand each batch back to be acked. The store's fixed cost per
transaction (an fsync, a round trip) is then paid once per flush instead of once per
batch, and the network thread's Python work overlaps the database's.

Device statuses go through the same queue, so one thread alone uses the store and a
status is stored in its arrival order among the batches.

Bounded: at most MAX_PENDING_RECORDS records wait. When the store is slower than the
broker delivers, a batch waits up to SUBMIT_WAIT_S for room and is then turned away
unacked (`event=batch_deferred`): its device resends it, and nothing is lost. A store that
fails leaves the flush unacked the same way. The thread never ends for a message; should
it end all the same, `alive` says so and `district serve` exits for its service manager to
restart it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from district.stores.sql import Prepared
from runtime import logs

FLUSH_RECORDS = 5000        # a flush takes at most this many records (at least one batch)
LINGER_S = 0.004            # a small flush waits this long for more to join it
MAX_PENDING_RECORDS = 20_000
SUBMIT_WAIT_S = 2.0
FAILED_PAUSE_S = 0.5        # after the store failed, before the next flush


@dataclass
class Incoming:
    """A checked batch, its rows made (SqlStore.prepare), waiting for the store."""
    prepared: Prepared
    batch: dict
    arrived: float = field(default_factory=time.monotonic)

    @property
    def device(self) -> str:
        return self.prepared.device

    @property
    def size(self) -> int:
        return len(self.batch["records"])


@dataclass
class StatusUpdate:
    device: str
    status: dict
    size: int = 1


class Writer:
    """Commits queued batches together; `done(items, outcomes, commit_s)` acks them."""

    def __init__(self, storage, done: Callable, *, flush_records: int = FLUSH_RECORDS,
                 linger_s: float = LINGER_S, max_pending: int = MAX_PENDING_RECORDS,
                 submit_wait_s: float = SUBMIT_WAIT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self.done = done
        self.flush_records = flush_records
        self.linger_s = linger_s
        self.max_pending = max_pending
        self.submit_wait_s = submit_wait_s
        self.clock = clock
        self.flushes = 0
        self._queue: collections.deque = collections.deque()
        self._pending = 0       # records (and statuses) queued
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="district-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, item: Incoming | StatusUpdate) -> bool:
        """Queue an item; False when there was no room within submit_wait_s, or the writer
        is stopping (the item is not taken: a batch then goes unacked)."""
        with self._ready:
            room = self._ready.wait_for(
                lambda: self._stopping or self._pending + item.size <= self.max_pending
                or not self._queue, self.submit_wait_s)
            if not room or self._stopping:
                return False
            self._queue.append(item)
            self._pending += item.size
            self._ready.notify_all()
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Commit and ack what is queued, then end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            items = self._take()
            if not items:
                return
            try:
                self._flush(items)
            except Exception as exc:    # a bug, not the store: the items stay unacked
                logs.event("writer_error", logging.ERROR, error=repr(exc), items=len(items))

    def _take(self) -> list:
        """The next flush: wait for something, linger while it is small, then take up to
        flush_records (at least one item). Empty when stopping with nothing left."""
        with self._ready:
            idle = not self._queue
            self._ready.wait_for(lambda: self._queue or self._stopping)
            if not self._queue:
                return []
            # Linger only after idling: what queued during the last commit is a flush
            # already, and waiting more would only delay its acks.
            deadline = self.clock() + (self.linger_s if idle else 0.0)
            while (not self._stopping and self._pending < self.flush_records
                   and (left := deadline - self.clock()) > 0):
                self._ready.wait(left)
            items, size = [], 0
            while self._queue and (not items or size + self._queue[0].size
                                   <= self.flush_records):
                item = self._queue.popleft()
                items.append(item)
                size += item.size
            self._pending -= size
            self._ready.notify_all()
            return items

    def _flush(self, items: list) -> None:
        """Statuses are stored one by one in their place; each run of batches between them
        is one transaction."""
        run: list[Incoming] = []
        for item in items:
            if isinstance(item, Incoming):
                run.append(item)
                continue
            self._commit(run)
            run = []
            self._store_status(item)
        self._commit(run)

    def _commit(self, run: list[Incoming]) -> None:
        if not run:
            return
        started = self.clock()
        try:
            outcomes = self.storage.commit_prepared([item.prepared for item in run])
        except Exception as exc:    # the store failed: nothing acked, devices resend
            logs.event("receiver_error", logging.ERROR, batches=len(run),
                       devices=",".join(sorted({item.device for item in run}))[:200],
                       error=repr(exc)[:300])
            self._pause()
            return
        self.flushes += 1
        self.done(run, outcomes, self.clock() - started)

    def _store_status(self, item: StatusUpdate) -> None:
        try:
            self.storage.record_status(item.device, item.status)
        except Exception as exc:
            logs.event("receiver_error", logging.ERROR, device=item.device, kind="status",
                       error=repr(exc)[:300])

    def _pause(self) -> None:
        """A failing store is not hammered: wait a moment (or until stopped)."""
        with self._ready:
            self._ready.wait_for(lambda: self._stopping, FAILED_PAUSE_S)
