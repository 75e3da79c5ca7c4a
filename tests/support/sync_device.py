"""A device for delivery tests: decisions committed to a real store while Sync delivers them.

Run as a process (`python -m tests.support.sync_device DB URL TOTAL`) so a test can SIGKILL it at
any moment: it commits decisions until the store holds TOTAL, waits until every one is
acknowledged, then stops cleanly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from drivers.clock import SystemClock
from edge.store import Store
from edge.sync import Sync, Timing
from models.ids import uuid7
from models.records import Record
from models.timefmt import rfc3339

DEVICE = "dev-0001"
FAST = Timing(poll_s=0.5, ack_timeout_s=1.0, max_backoff_s=2.0, reconnect_min_s=0.1,
              reconnect_max_s=0.5)
KINDS = (("pass", ()), ("deny", ("fever",)), ("check", ("temperature_missing",)))


def decide(store: Store, count: int) -> None:
    """Commit `count` decisions, as the controller does."""
    for n in range(count):
        decision, reasons = KINDS[n % 3]
        now = time.time()
        store.commit(Record(id=uuid7(int(now * 1000)), ts=rfc3339(now), clock_synced=True,
                            gate="east-1", decision=decision, reasons=reasons,
                            temperature_c=36.6, subject=f"{n:032x}"))


def start_sync(url: str, store: Store) -> Sync:
    sync = Sync(url, device=DEVICE, store_path=store.path, clock=SystemClock(), timing=FAST)
    sync.start()
    return sync


def run(db: Path, url: str, total: int) -> None:
    with Store(db) as store:
        sync = start_sync(url, store)
        while (left := total - store.count()) > 0:
            decide(store, min(10, left))
            sync.notify()
            time.sleep(0.01)
        while store.backlog()[0]:
            time.sleep(0.05)
        sync.stop()


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
