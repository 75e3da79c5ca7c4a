"""The receiver's writer: what arrives together is committed together, then acked.

The network thread reads and checks each message and makes its rows
(district/receiver.py, SqlStore.prepare) and hands it here; a writer thread takes
everything queued (lingering a few milliseconds for more when it was idle and the flush is
small) and commits the batches in one transaction (SqlStore.commit_prepared). Only after
the commit does it hand each batch back to be acked. The store's fixed cost per
transaction (an fsync, a round trip) is then paid once per flush instead of once per
batch, and the network thread's Python work overlaps the database's.

On a store that takes more than one connection (PostgreSQL: SqlStore.sibling), a second
writer thread with a connection of its own takes the next flush meanwhile: while one
flush's insert runs in the database, the other's rows are copied in, and its acks go out
while the next insert runs. One connection alone left the database idle for the Python
work at either end of each flush (scripts/bench_delivery.py measures both). The two
transactions meet only where two receivers' would: at the unique keys and the locks of
district/stores/postgres.py. Device statuses go through the same queue and only the first
thread stores them, so they are stored in their arrival order; a batch can commit before a
status that arrived before it, or after one that came later (they touch different rows).

Bounded: at most MAX_PENDING_RECORDS records wait. When the store is slower than the
broker delivers, a batch waits up to SUBMIT_WAIT_S for room and is then turned away
unacked (`event=batch_deferred`): its device resends it, and nothing is lost. A store that
fails leaves the flush unacked the same way. The threads never end for a message; should
one end all the same, `alive` says so and `district serve` exits for its service manager
to restart it.
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
CONNECTIONS = 2             # writer threads, each with its own connection, where the store
                            # has more than one; a third would only wait on the same locks
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
                 submit_wait_s: float = SUBMIT_WAIT_S, connections: int = CONNECTIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self.connections = connections
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
        self._siblings: list = []     # the connections opened here (storage is the caller's)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the writer threads: the first on `storage`, each further one (up to
        `connections`) on a connection of its own, if the store gives one (a second one
        that cannot connect now is logged, and the writer runs with one)."""
        stores = [self.storage]
        for _ in range(1, self.connections):
            try:
                sibling = self.storage.sibling()
            except Exception as exc:
                logs.event("writer_connection_failed", logging.WARNING, error=repr(exc)[:300])
                break
            if sibling is None:
                break
            self._siblings.append(sibling)
            stores.append(sibling)
        self._threads = [threading.Thread(target=self._run, args=(index, store), daemon=True,
                                          name="district-writer" + (f"-{index + 1}" if index
                                                                    else ""))
                         for index, store in enumerate(stores)]
        for thread in self._threads:
            thread.start()

    @property
    def alive(self) -> bool:
        """Every writer thread is running (before start: none is, so False)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

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
        """Commit and ack what is queued, then end the threads and close the connections
        opened for them."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        if not any(thread.is_alive() for thread in self._threads):  # none still uses one
            for sibling in self._siblings:
                sibling.close()

    def _run(self, index: int, store) -> None:
        while True:
            items = self._take(statuses=index == 0)
            if not items:
                return
            try:
                self._flush(items, store)
            except Exception as exc:    # a bug, not the store: the items stay unacked
                logs.event("writer_error", logging.ERROR, error=repr(exc), items=len(items))

    def _take(self, statuses: bool) -> list:
        """The next flush: wait for something, linger while it is small, then take up to
        flush_records (at least one item). Without `statuses`, only the batches before the
        first status queued. Empty when stopping with nothing left (to take)."""
        def takeable() -> bool:
            return bool(self._queue) and (statuses or isinstance(self._queue[0], Incoming))

        with self._ready:
            idle = not self._queue
            while True:
                self._ready.wait_for(lambda: takeable() or self._stopping)
                if not takeable():
                    return []
                # Linger only after idling: what queued during the last commit is a flush
                # already, and waiting more would only delay its acks.
                deadline = self.clock() + (self.linger_s if idle else 0.0)
                while (not self._stopping and self._pending < self.flush_records
                       and (left := deadline - self.clock()) > 0):
                    self._ready.wait(left)
                items = self._pop(takeable)
                if items:
                    return items
                idle = True     # the other writer thread took it all while this one lingered

    def _pop(self, takeable: Callable[[], bool]) -> list:
        """Up to flush_records of what this thread may take (at least one item), off the
        queue; the caller holds the lock."""
        items, size = [], 0
        while takeable() and (not items or size + self._queue[0].size <= self.flush_records):
            item = self._queue.popleft()
            items.append(item)
            size += item.size
        self._pending -= size
        self._ready.notify_all()
        return items

    def _flush(self, items: list, store) -> None:
        """Statuses are stored one by one in their place; each run of batches between them
        is one transaction."""
        run: list[Incoming] = []
        for item in items:
            if isinstance(item, Incoming):
                run.append(item)
                continue
            self._commit(run, store)
            run = []
            self._store_status(item, store)
        self._commit(run, store)

    def _commit(self, run: list[Incoming], store) -> None:
        if not run:
            return
        started = self.clock()
        try:
            outcomes = store.commit_prepared([item.prepared for item in run])
        except Exception as exc:    # the store failed: nothing acked, devices resend
            logs.event("receiver_error", logging.ERROR, batches=len(run),
                       devices=",".join(sorted({item.device for item in run}))[:200],
                       error=repr(exc)[:300])
            self._pause()
            return
        with self._ready:
            self.flushes += 1
        self.done(run, outcomes, self.clock() - started)

    def _store_status(self, item: StatusUpdate, store) -> None:
        try:
            store.record_status(item.device, item.status)
        except Exception as exc:
            logs.event("receiver_error", logging.ERROR, device=item.device, kind="status",
                       error=repr(exc)[:300])

    def _pause(self) -> None:
        """A failing store is not hammered: wait a moment (or until stopped)."""
        with self._ready:
            self._ready.wait_for(lambda: self._stopping, FAILED_PAUSE_S)
