"""Several receiver workers on one shared subscription split the load, on each backend, and
the district still holds exactly the records the devices decided."""

from __future__ import annotations

import time

from district.receiver import Receiver
from district.stores import open_store
from drivers.clock import SystemClock
from edge.store import Store
from edge.sync import Sync
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.sync_device import FAST, decide
from tests.support.waiting import wait_for

DEVICES = ("dev-0001", "dev-0002", "dev-0003")
PER_DEVICE = 1200






def test_two_workers_split_the_load_exactly_once(district_store_url, tmp_path,  # noqa: F811
                                                broker):
    url = district_store_url
    stores = [open_store(url) for _ in range(2)]
    workers = [Receiver(broker.url, store) for store in stores]
    devices = [Store(tmp_path / f"{name}.db") for name in DEVICES]
    syncs = [Sync(broker.url, device=name, store_path=store.path, clock=SystemClock(),
                  timing=FAST) for name, store in zip(DEVICES, devices, strict=True)]
    try:
        for worker in workers:
            worker.start()
        wait_for(lambda: all(w.connected for w in workers), "both workers subscribed",
                 timeout=60.0)
        for device in devices:
            decide(device, PER_DEVICE)      # a backlog: 6 batches of 200 per device
        started = time.monotonic()
        for sync in syncs:
            sync.start()
        wait_for(lambda: all(d.backlog()[0] == 0 for d in devices), "every record acked",
                 timeout=60.0)
        elapsed = time.monotonic() - started
        held = list(stores[0].records())
        sent = {name: {r["id"] for r in device.records()}
                for name, device in zip(DEVICES, devices, strict=True)}
    finally:
        for sync in syncs:
            sync.stop()
        for worker in workers:
            worker.stop()
        for store in (*stores, *devices):
            store.close()
    assert len(held) == len({r["id"] for r in held}) == len(DEVICES) * PER_DEVICE
    for name, ids in sent.items():
        assert {r["id"] for r in held if r["device"] == name} == ids
    counts = [w.batches for w in workers]
    assert all(count > 0 for count in counts), f"one worker did everything: {counts}"
    assert sum(counts) >= len(DEVICES) * PER_DEVICE // 200
    print(f"workers=2 batches={counts} records={len(held)} "
          f"duplicates={sum(s.duplicates for s in stores)} "
          f"ingest={len(held) / elapsed:.0f} records/s")
