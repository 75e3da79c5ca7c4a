"""Hostile messages through a real Mosquitto into the real receiver, on each backend: a bad
record is rejected by name in the ack while its neighbours are committed and acked, a
message nested 10^5 deep is refused by name, and the receiver goes on committing."""

from __future__ import annotations

import json
import zlib
from types import SimpleNamespace

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from district.receiver import Receiver
from district.stores import open_store
from tests.support.broker import raw_client
from tests.support.loglines import captured_lines
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.waiting import wait_for
from tests.support.wire import STORE, SURROGATE, wire_batch, wire_record

DEVICE = "dev-hostile"
ZLIB = "application/json+zlib"


@pytest.fixture
def log_lines():
    """The `checkpoint` log lines of the test."""
    with captured_lines() as lines:
        yield lines


@pytest.fixture
def district(district_store_url, broker, log_lines):  # noqa: F811 - the imported fixture
    """A receiver on a fresh store, a device-side client hearing its acks, and a second
    connection to the store for the test to read from."""
    storage = open_store(district_store_url)
    reader = open_store(district_store_url)
    receiver = Receiver(broker.url, storage)
    acks: list = []
    device = raw_client(broker, f"cp/v1/{DEVICE}/ack", acks)
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe")
        yield SimpleNamespace(receiver=receiver, acks=acks, device=device, reader=reader,
                              log=log_lines)
    finally:
        device.disconnect()
        device.loop_stop()
        receiver.stop()
        storage.close()
        reader.close()


def publish(district, payload: bytes, kind: str = "records", content_type: str | None = None):
    properties = Properties(PacketTypes.PUBLISH)
    if content_type:
        properties.ContentType = content_type
    district.device.publish(f"cp/v1/{DEVICE}/{kind}", payload, qos=1, properties=properties)


def on_the_wire(batch: dict) -> bytes:
    """The batch as a device's json.dumps writes it: ensure_ascii, so a lone surrogate
    travels as the escape "\\ud800", valid UTF-8 that json.loads turns back into one."""
    return json.dumps(batch).encode()


def next_ack(district, count: int) -> dict:
    wait_for(lambda: len(district.acks) >= count, f"ack {count}")
    return json.loads(district.acks[count - 1][2])


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_hostile_records_are_rejected_by_name_and_their_neighbours_acked(district):
    plain = wire_batch(wire_record(1), wire_record(2, temperature_c=2**63),
                       wire_record(3, note="visitor " + SURROGATE), wire_record(4, gate=SURROGATE),
                       wire_record(5), device=DEVICE)
    payload = on_the_wire(plain)
    assert b"\\ud800" in payload and b"9223372036854775808" in payload
    publish(district, payload)
    ack = next_ack(district, 1)
    assert (ack["batch"], ack["store"]) == (plain["batch"], STORE)
    assert ack["accepted"] == [[1, 1], [5, 5]]
    assert ack["rejected"] == [{"seq": 2, "reason": "bad_number"},
                               {"seq": 3, "reason": "bad_text"},
                               {"seq": 4, "reason": "bad_text"}]
    # The same through zlib, as a device compresses a batch above 1 KiB.
    packed = wire_batch(wire_record(6, subject="x" + SURROGATE), wire_record(7),
                        wire_record(8, temperature_c=-(2**63)),
                        wire_record(9, kid="k" + SURROGATE), device=DEVICE)
    publish(district, zlib.compress(on_the_wire(packed)), content_type=ZLIB)
    ack = next_ack(district, 2)
    assert ack["accepted"] == [[7, 7]]
    assert ack["rejected"] == [{"seq": 6, "reason": "bad_text"},
                               {"seq": 8, "reason": "bad_number"},
                               {"seq": 9, "reason": "bad_text"}]
    assert [r["seq"] for r in district.reader.records()] == [1, 5, 7]
    assert district.receiver.alive and district.receiver.refused == []


def test_deep_messages_are_refused_by_name_and_later_batches_committed(district):
    publish(district, deep(100_000))
    publish(district, zlib.compress(deep(100_000)), content_type=ZLIB)
    wait_for(lambda: district.receiver.refused == [(DEVICE, "too_deep")] * 2,
             "both deep batches refused")
    status = {"schema": "checkpoint.status/1", "device": DEVICE, "online": True}
    publish(district, deep(20_000), kind="status")          # 40 KB: read, and too deep
    publish(district, deep(100_000), kind="status")         # 200 KB: too large to read
    publish(district, json.dumps({**status, "camera": deep(9).decode()}).encode(),
            kind="status")      # nesting inside a text is no nesting
    wait_for(lambda: [d["online"] for d in district.reader.devices()] == [True],
             "the good status recorded")
    refusals = [line for line in district.log if "event=status_refused" in line]
    assert refusals == [f"event=status_refused device={DEVICE} reason=too_deep",
                        f"event=status_refused device={DEVICE} reason=too_large"]
    batch = wire_batch(wire_record(1), wire_record(2), device=DEVICE)
    publish(district, on_the_wire(batch))
    assert next_ack(district, 1)["accepted"] == [[1, 2]]
    assert len(district.acks) == 1      # a deep batch says nothing of whose it is: no ack
    assert [r["seq"] for r in district.reader.records()] == [1, 2]
    assert district.receiver.alive


def test_the_ack_echoes_the_canonical_store_and_a_changed_resend_is_a_conflict(district):
    first = wire_batch(wire_record(1), wire_record(2), store=STORE.upper(), device=DEVICE)
    publish(district, on_the_wire(first))
    ack = next_ack(district, 1)
    assert ack["store"] == STORE and ack["accepted"] == [[1, 2]]    # what the device holds
    # Its ack was lost: the device sends it again, identical, then a clone edits seq 2.
    publish(district, on_the_wire({**first, "store": STORE}))
    assert next_ack(district, 2)["accepted"] == [[1, 2]]
    edited = wire_batch(wire_record(2, note="edited"), wire_record(3), device=DEVICE)
    publish(district, on_the_wire(edited))
    ack = next_ack(district, 3)
    assert ack["accepted"] == [[3, 3]]
    assert ack["rejected"] == [{"seq": 2, "reason": "conflict"}]
    assert [(r["store"], r["seq"], r["note"]) for r in district.reader.records()] == [
        (STORE, 1, None), (STORE, 2, None), (STORE, 3, None)]
    assert any("event=record_conflict" in line and "differ=note" in line
               for line in district.log)
