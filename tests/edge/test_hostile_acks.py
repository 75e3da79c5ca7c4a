"""Issue faults 2 and 3 on the real processes (device store, Sync, Mosquitto, receiver): what
anyone on the broker publishes on a device's ack topic settles nothing it should not.

Before this change, a 10^5-deep JSON ack killed paho's network thread (no later ack, no
reconnect after a broker restart), and an ack naming a batch never sent, with
`accepted: [[1, 1000000000]]`, marked records synced that the district never had.
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib

import pytest

from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from edge.store import Store
from models.wire import CONTENT_ZLIB, SCHEMA_ACK
from tests.support.broker import publisher, raw_client
from tests.support.sync_device import DEVICE, decide, start_sync
from tests.support.waiting import wait_for

ACK_TOPIC = f"cp/v1/{DEVICE}/ack"


@pytest.fixture
def device(tmp_path):
    with Store(tmp_path / "device.db") as store:
        yield store


def forge(client, payload) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    client.publish(ACK_TOPIC, data, qos=1).wait_for_publish(10)


def ack(store_id: str, batch: str, accepted, rejected=()) -> dict:
    return {"schema": SCHEMA_ACK, "batch": batch, "store": store_id,
            "accepted": accepted, "rejected": list(rejected)}


def batches(seen: list) -> list[dict]:
    """The batches a raw subscriber saw on the device's records topic, decoded."""
    out = []
    for _, content_type, payload in list(seen):
        out.append(json.loads(zlib.decompress(payload) if content_type == CONTENT_ZLIB
                              else payload))
    return out


def synced_ids(store: Store) -> set[str]:
    return {r["id"] for r in store.records() if r["synced"]}


def district_ids(path) -> set[str]:
    with DistrictStore(path) as storage:
        return {r["id"] for r in storage.records()}


def deliver_all(broker, device: Store, db) -> None:
    """A real receiver takes everything; the district ends with exactly the device's rows."""
    storage = DistrictStore(db)
    receiver = Receiver(broker.url, storage)
    receiver.start()
    try:
        wait_for(lambda: device.backlog()[0] == 0, "every record acknowledged", timeout=60)
    finally:
        receiver.stop()
        storage.close()
    assert district_ids(db) == {r["id"] for r in device.records()} == synced_ids(device)


def test_a_deep_ack_kills_no_thread_and_later_acks_and_reconnects_work(broker, device,
                                                                       tmp_path, caplog):
    decide(device, 30)
    sync = start_sync(broker.url, device)
    try:
        wait_for(lambda: sync.connected, "the device online")
        client = publisher(broker)
        with caplog.at_level(logging.WARNING, logger="checkpoint"):
            forge(client, b"[" * 100_000 + b"]" * 100_000)
            forge(client, b'{"schema": "checkpoint.ack/1", "accepted": ' + b"[" * 900 + b"]"
                  * 900 + b"}")
            wait_for(lambda: sync.acks_malformed == 2, "both deep acks refused")
        assert sync.network_alive and sync.worker.alive
        assert "event=ack_malformed" in caplog.text and "too_deep" in caplog.text
        client.loop_stop()
        broker.restart()                    # the device must come back by itself
        wait_for(lambda: sync.connected, "the device reconnected after the broker restart")
        decide(device, 20)
        sync.notify()
        deliver_all(broker, device, tmp_path / "district.db")
        assert sync.network_alive
    finally:
        sync.stop()


def test_forged_acks_mark_nothing_the_district_lacks(broker, device, tmp_path, caplog):
    decide(device, 1500)
    seen: list = []
    spy = raw_client(broker, f"cp/v1/{DEVICE}/records", seen)
    sync = start_sync(broker.url, device)   # no receiver yet: nothing is really acked
    client = publisher(broker)
    try:
        wait_for(lambda: len(seen) >= 4, "four batches in flight")
        real = batches(seen)[0]
        seqs = [r["seq"] for r in real["records"]]
        with caplog.at_level(logging.WARNING, logger="checkpoint"):
            forge(client, ack(device.store_id, str(uuid.uuid4()), [[1, 1_000_000_000]]))
            forge(client, ack(device.store_id, real["batch"], [[1, 1_000_000_000]]))
            forge(client, ack(device.store_id, real["batch"], [[seqs[0], seqs[-1] + 1]]))
            forge(client, ack(device.store_id.upper(), real["batch"], [[-5, 10]]))
            forge(client, ack(str(uuid.uuid4()), real["batch"], [[seqs[0], seqs[-1]]]))
            forge(client, ack(device.store_id, real["batch"], [[True, 3]]))
            forge(client, ack(device.store_id, real["batch"], [],
                              [{"seq": 10**9, "reason": "x"}]))
            forge(client, {**ack(device.store_id, [1], []), "batch": [1]})
            wait_for(lambda: sync.counters()["acks_ignored"] == 8, "eight forged acks ignored")
        reasons = [r.getMessage() for r in caplog.records if "ack_ignored" in r.getMessage()]
        assert any("unknown_batch" in line for line in reasons)
        assert any("beyond_batch" in line for line in reasons)
        assert device.backlog()[0] == 1500, "a forged ack marked records synced"

        # A forged rejection of a real batch holds its records back only until they are
        # offered again, once the pause has passed and a batch has room.
        with caplog.at_level(logging.WARNING, logger="checkpoint"):
            forge(client, ack(device.store_id, real["batch"], [],
                              [{"seq": seq, "reason": "forged"} for seq in seqs]))
            wait_for(lambda: "reason=forged" in caplog.text, "the forged rejection taken")
        deliver_all(broker, device, tmp_path / "district.db")
        again = [b for b in batches(seen) if b["batch"] != real["batch"]
                 and seqs[0] in [r["seq"] for r in b["records"]]]
        assert again, "the rejected records were never offered again"
    finally:
        client.loop_stop()
        spy.loop_stop()
        sync.stop()
