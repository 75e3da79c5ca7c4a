"""A device id sending from two stores at once, through the real receiver and a real
Mosquitto, on each backend: one warning per new conflict, and every batch still acked."""

from __future__ import annotations

import json
import logging
import uuid

from district.receiver import Receiver
from district.stores import open_store
from tests.support.broker import raw_client
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.waiting import wait_for
from tests.support.wire import wire_batch, wire_record

DEVICE = "dev-clone"
A, B = str(uuid.uuid4()), str(uuid.uuid4())


def batch(store: str, seq: int) -> bytes:
    return json.dumps(wire_batch(wire_record(seq, id=str(uuid.uuid5(uuid.UUID(store), str(seq)))),
                                 store=store,
                                 device=DEVICE)).encode()


def test_two_stores_at_once_are_logged_once_and_still_acked(
        district_store_url, broker, caplog):  # noqa: F811 - the imported fixture
    caplog.set_level(logging.INFO, logger="checkpoint")
    checkpoint = logging.getLogger("checkpoint")
    direct = not checkpoint.propagate   # runtime.logs.setup() turns propagation off
    if direct:
        checkpoint.addHandler(caplog.handler)
    storage = open_store(district_store_url)
    receiver = Receiver(broker.url, storage)
    acks: list = []
    sender = raw_client(broker, f"cp/v1/{DEVICE}/ack", acks)
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe")
        for count, (store, seq) in enumerate([(A, 1), (B, 1), (A, 2), (B, 2), (A, 3)], 1):
            sender.publish(f"cp/v1/{DEVICE}/records", batch(store, seq), qos=1)
            wait_for(lambda n=count: len(acks) == n, f"ack {count}")    # in this order
        (device,) = storage.devices()
        held = sorted((r["store"], r["seq"]) for r in storage.records())
    finally:
        if direct:
            checkpoint.removeHandler(caplog.handler)
        sender.disconnect()
        receiver.stop()
        storage.close()
    conflicts = [line for line in caplog.messages if "event=device_conflict" in line]
    assert conflicts == [f"event=device_conflict device={DEVICE} stores={A},{B}"]
    assert [r.levelno for r in caplog.records if "device_conflict" in r.getMessage()] == [
        logging.WARNING]
    assert [json.loads(payload)["accepted"] for _, _, payload in acks] == [
        [[1, 1]], [[1, 1]], [[2, 2]], [[2, 2]], [[3, 3]]]
    assert held == sorted([(A, 1), (A, 2), (A, 3), (B, 1), (B, 2)])
    assert device["flag"] == "two_stores" and set(device["flag_stores"]) == {A, B}
