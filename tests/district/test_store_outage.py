"""The district's PostgreSQL lost under a running receiver (stopped at once, as a crash or a
failover looks to its clients) and back: no batch is acked while its commit cannot happen,
the device resends, the receiver's connections are made again, and the district holds
every record the device decided exactly once (docs/district.md section 6)."""

from __future__ import annotations

from district.receiver import Receiver
from district.stores import open_store
from drivers.clock import SystemClock
from edge.store import Store
from edge.sync import Sync
from tests.support.postgres import own_pg_server  # noqa: F401 - fixture
from tests.support.sync_device import DEVICE, FAST, decide
from tests.support.waiting import wait_for

BEFORE, DURING = 400, 400   # records delivered before the outage, and decided during it


def failed_commits(events) -> int:
    return sum("event=receiver_error" in line for line in events.messages)


def test_the_database_lost_and_back_loses_and_doubles_nothing(own_pg_server,  # noqa: F811
                                                              broker, tmp_path, events):
    url = own_pg_server.new_database()
    storage = open_store(url)
    receiver = Receiver([broker.url], storage)
    device = Store(tmp_path / "device.db")
    sync = Sync([broker.url], device=DEVICE, store_path=device.path, clock=SystemClock(),
                timing=FAST)
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe", timeout=10.0)
        sync.start()
        decide(device, BEFORE)
        sync.notify()
        wait_for(lambda: device.backlog()[0] == 0, "the first records acknowledged",
                 timeout=20.0)
        own_pg_server.halt()
        decide(device, DURING)
        sync.notify()
        wait_for(lambda: failed_commits(events) > 0, "a commit that met the outage",
                 timeout=20.0)
        unacked_during = device.backlog()[0]
        own_pg_server.resume()
        wait_for(lambda: device.backlog()[0] == 0, "every record acknowledged",
                 timeout=30.0)
        workers_alive = receiver.alive and receiver.writer.alive
        decided = {(DEVICE, device.store_id, r["seq"]) for r in device.records()}
    finally:
        sync.stop()
        receiver.stop()
        device.close()
    with open_store(url) as district:
        held = [(r["device"], r["store"], r["seq"]) for r in district.records()]
    storage.close()
    assert unacked_during == DURING          # nothing acked while it could not commit
    assert len(decided) == BEFORE + DURING
    assert len(held) == len(set(held)) and set(held) == decided
    assert workers_alive                     # the outage ended no thread
