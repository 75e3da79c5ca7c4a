"""Delivery to the district through a real Mosquitto: nothing lost, nothing doubled.

Device store, sync worker, broker and receiver are all real, and so are the faults: the
broker SIGKILLed and restarted, the device process SIGKILLed, a receiver whose acks are
lost after its commit, a broker refusing a publish, the network cut or left half-open.
Each fault test ends by checking that the district holds exactly the device's records.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

import pytest

from cli.main import main
from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from drivers.clock import SystemClock
from edge.store import Store
from edge.sync import Sync, Timing
from models.ids import uuid7
from tests.support.broker import Broker, raw_client
from tests.support.sync_device import DEVICE, FAST, decide, start_sync
from tests.support.tcp_proxy import BLACKHOLE, CUT, FORWARD, Proxy
from tests.support.waiting import wait_for

# PROTOCOL.md section 5, then this project's additions (docs/protocol.md).
STATUS_FIELDS = {
    "schema", "device", "online", "ts", "version", "boot_id", "uptime_s", "backlog",
    "oldest_unsynced", "camera", "thermal", "gate", "reader", "clock_synced", "disk_free_mb",
    "trustlist_version", "revocations_version", "policy_version"} | {
    "roster_version", "alarm", "workers", "counters"}




def district_rows(path) -> list[dict]:
    if not path.exists():
        return []
    with DistrictStore(path) as storage:
        return list(storage.records())


def assert_delivered(device: Store, db: Path, total: int, faults: str,
                     redelivered: int | None = None) -> None:
    """The district holds exactly the device's `total` records; the figures, printed."""
    rows = district_rows(db)
    assert device.count() == total
    assert_exactly_once(device, rows)
    extra = "" if redelivered is None else f" redelivered={redelivered}"
    print(f"{faults} device={total} district={len(rows)} lost={total - len(rows)} "
          f"duplicated={len(rows) - len({r['id'] for r in rows})}{extra}")


def assert_exactly_once(device_store: Store, rows: list[dict]) -> None:
    device_ids = [r["id"] for r in device_store.records()]
    district_ids = [r["id"] for r in rows]
    assert len(district_ids) == len(set(district_ids)), "duplicated rows"
    assert sorted(district_ids) == sorted(device_ids), "lost or foreign rows"
    assert {(r["device"], r["store"]) for r in rows} == {(DEVICE, device_store.store_id)}
    assert device_store.backlog() == (0, None)




@pytest.fixture
def device(tmp_path):
    """The controller's store connection; the sync worker opens its own."""
    with Store(tmp_path / "device.db") as store:
        yield store


def start_receiver(url: str, db) -> tuple[Receiver, DistrictStore]:
    storage = DistrictStore(db)
    receiver = Receiver(url, storage)
    receiver.start()
    return receiver, storage


def test_records_delivered_acked_and_exported(tmp_path, broker, device, capsys):
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "sqlite:///district.db"\n')
    serve = subprocess.Popen([sys.executable, "-m", "cli.main", "district", "serve",
                              "--config", str(config)], stdout=subprocess.DEVNULL)
    seen: list = []
    observer = raw_client(broker, f"cp/v1/{DEVICE}/records", seen)
    sync = start_sync(broker.url, device)
    try:
        decide(device, 450)
        sync.notify()
        wait_for(lambda: device.backlog()[0] == 0, "every record acked")
    finally:
        sync.stop()
        observer.disconnect()
    rows = district_rows(tmp_path / "district.db")
    assert_exactly_once(device, rows)
    batches = [json.loads(zlib.decompress(payload)) for _, kind, payload in seen
               if kind == "application/json+zlib"]
    assert batches and all(len(b["records"]) <= 200 for b in batches)
    assert batches[0]["schema"] == "checkpoint.batch/1" and "synced" not in batches[0]["records"][0]
    wait_for(lambda: _registry(tmp_path / "district.db").get("online") is False,
             "the device's offline status in the registry")
    status = _registry(tmp_path / "district.db")["status"]
    assert set(status) == STATUS_FIELDS and status["backlog"] == 0
    serve.terminate()
    assert serve.wait(timeout=10) == 0
    capsys.readouterr()
    assert main(["district", "records", "--config", str(config)]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(exported) == 450
    assert [r["seq"] for r in exported] == list(range(1, 451))
    assert exported[0]["device"] == DEVICE and exported[0]["store"] == device.store_id
    assert exported[1]["decision"] == "deny" and exported[1]["reasons"] == ["fever"]


def _registry(db) -> dict:
    with DistrictStore(db) as storage:
        devices = {d["device"]: d for d in storage.devices()}
    return devices.get(DEVICE, {})


def test_broker_down_at_first_then_everything_delivered(tmp_path, device):
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder)         # not started yet
    sync = start_sync(broker.url, device)
    receiver = None
    try:
        started = time.monotonic()
        decide(device, 120)
        sync.notify()
        assert time.monotonic() - started < 5.0     # deciding never waits for the network
        assert not sync.connected and device.backlog()[0] == 120
        broker.start()
        receiver, storage = start_receiver(broker.url, tmp_path / "district.db")
        wait_for(lambda: device.backlog()[0] == 0, "the backlog drained")
    finally:
        sync.stop()
        if receiver:
            receiver.stop()
            storage.close()
        broker.stop()
    assert_exactly_once(device, district_rows(tmp_path / "district.db"))


def test_broker_killed_and_restarted_mid_stream(tmp_path, broker, device):
    receiver, storage = start_receiver(broker.url, tmp_path / "district.db")
    sync = start_sync(broker.url, device)
    total, faults = 600, 3
    producer_store = Store(device.path)
    producer = threading.Thread(target=_produce, args=(producer_store, sync, total))
    try:
        producer.start()
        for _ in range(faults):
            delivered = len(district_rows(tmp_path / "district.db"))
            wait_for(lambda n=delivered: len(district_rows(tmp_path / "district.db")) > n,
                     "delivery to progress")
            broker.kill()
            committed = device.count()
            wait_for(lambda c=committed: device.count() >= min(total, c + 30),
                     "records to accumulate while the broker is down")
            broker.start()
        producer.join(timeout=30)
        wait_for(lambda: device.backlog()[0] == 0, "the backlog drained", timeout=30)
    finally:
        sync.stop()
        receiver.stop()
        storage.close()
        producer_store.close()
    assert_delivered(device, tmp_path / "district.db", total,
                     f"broker SIGKILLs={broker.kills}", storage.duplicates)


def _produce(store: Store, sync: Sync, total: int) -> None:
    for _ in range(total // 10):
        decide(store, 10)
        sync.notify()
        time.sleep(0.03)


def test_receiver_restarted_between_commit_and_ack(tmp_path, device, caplog):
    folder = tmp_path / "broker"
    folder.mkdir()
    # "mute" may read batches but not publish acks: it commits, then its ack is lost,
    # exactly as when a receiver dies between the two.
    broker = Broker(folder, acl="topic readwrite cp/v1/#\nuser mute\n"
                                "topic read cp/v1/+/records\ntopic read cp/v1/+/status\n")
    broker.start()
    db = tmp_path / "district.db"
    mute, mute_storage = start_receiver(f"mqtt://mute@{broker.host}:{broker.port}", db)
    wait_for(lambda: mute.connected, "the first receiver to connect")
    # Decided before the uplink starts, so they leave in one batch: with no ack coming
    # back, at most MAX_IN_FLIGHT batches leave, and a device racing its own commits
    # could fill them with a few records each.
    decide(device, 30)
    sync = start_sync(broker.url, device)
    receiver = None
    try:
        wait_for(lambda: len(district_rows(db)) == 30, "the first receiver's commits")
        wait_for(lambda: "ack_refused_by_broker" in caplog.text, "the lost acks")
        assert device.backlog()[0] == 30
        mute.stop()
        mute_storage.close()
        receiver, storage = start_receiver(broker.url, db)
        wait_for(lambda: device.backlog()[0] == 0, "the resent batch acked")
        assert storage.duplicates >= 30     # every resent record acked as accepted
    finally:
        sync.stop()
        if receiver:
            receiver.stop()
            storage.close()
        broker.stop()
    assert_exactly_once(device, district_rows(db))
    assert "record_rejected" not in caplog.text


def test_malformed_batches_are_refused_with_a_reason(tmp_path, broker):
    receiver, storage = start_receiver(broker.url, tmp_path / "district.db")
    acks: list = []
    sender = raw_client(broker, "cp/v1/dev-x/ack", acks)
    store_id = str(uuid.uuid4())
    good = {"id": uuid7(1_790_000_000_000), "seq": 1, "ts": "2026-11-29T03:04:05.123Z",
            "clock_synced": True, "gate": "east-1", "decision": "pass", "reasons": [],
            **dict.fromkeys(("pass_format", "issuer", "kid", "subject", "color", "pass_exp",
                             "tested_at", "temperature_c", "operator", "note"))}
    flu = {**good, "id": uuid7(1_790_000_000_001), "seq": 2, "reasons": ["flu"]}

    def batch(schema="checkpoint.batch/1", records=(good,)):
        return json.dumps({"schema": schema, "device": "dev-x", "store": store_id,
                           "batch": str(uuid.uuid4()), "sent": good["ts"],
                           "records": list(records)}).encode()
    try:
        wait_for(lambda: receiver.connected, "the receiver to connect")
        topic = "cp/v1/dev-x/records"
        sender.publish(topic, b"{not json", qos=1)
        sender.publish(topic, batch(schema="checkpoint.batch/9"), qos=1)
        sender.publish(topic, batch(records=(good, flu)), qos=1)
        wait_for(lambda: len(acks) == 2, "two acks")
    finally:
        sender.disconnect()
        receiver.stop()
        storage.close()
    assert receiver.refused == [("dev-x", "bad_json"), ("dev-x", "unknown_schema")]
    refused, partial = (json.loads(payload) for _, _, payload in acks)
    assert refused["accepted"] == [] and refused["rejected"] == [
        {"seq": 1, "reason": "unknown_schema"}]
    assert partial["accepted"] == [[1, 1]]
    assert partial["rejected"] == [{"seq": 2, "reason": "unknown_reason"}]
    assert [r["id"] for r in district_rows(tmp_path / "district.db")] == [good["id"]]


def test_broker_refused_publish_is_not_delivery(tmp_path, device, caplog):
    folder = tmp_path / "broker"
    folder.mkdir()
    # "stranger" may not write this device's records: the broker answers PUBACK 0x87.
    broker = Broker(folder, acl=f"topic readwrite cp/v1/#\nuser stranger\n"
                                f"topic read cp/v1/{DEVICE}/ack\n"
                                f"topic write cp/v1/{DEVICE}/status\n")
    broker.start()
    logging.getLogger("checkpoint").addHandler(caplog.handler)
    receiver, storage = start_receiver(broker.url, tmp_path / "district.db")
    sync = start_sync(f"mqtt://stranger@{broker.host}:{broker.port}", device)
    try:
        decide(device, 10)
        sync.notify()
        wait_for(lambda: "batch_refused_by_broker" in caplog.text, "the refused PUBACK")
        assert "Not authorized" in caplog.text
        assert device.backlog()[0] == 10 and storage.count() == 0
    finally:
        logging.getLogger("checkpoint").removeHandler(caplog.handler)
        sync.stop()
        receiver.stop()
        storage.close()
        broker.stop()


def test_device_killed_at_random_moments_and_restarted(tmp_path, broker):
    receiver, storage = start_receiver(broker.url, tmp_path / "district.db")
    db, total = tmp_path / "device.db", 500
    command = [sys.executable, "-m", "tests.support.sync_device", str(db), broker.url, str(total)]
    moments = sorted(random.Random(5).sample(range(50, total - 50), 3))
    with Store(db) as device:
        try:
            for kill_at in moments:
                process = subprocess.Popen(command)
                wait_for(lambda k=kill_at: device.count() >= k, f"{kill_at} records")
                wait_for(lambda: _registry(tmp_path / "district.db").get("online") is True,
                         "the device online")
                process.kill()
                process.wait(timeout=5)
                # The broker tells the district at once, through the device's last will.
                wait_for(lambda: _registry(tmp_path / "district.db").get("online") is False,
                         "the last will in the registry")
            process = subprocess.Popen(command)
            assert process.wait(timeout=30) == 0
        finally:
            process.kill()
            receiver.stop()
            storage.close()
        assert_delivered(device, tmp_path / "district.db", total,
                         f"device SIGKILLs={len(moments)}", storage.duplicates)


def test_status_retained_on_connect_and_repeated(tmp_path, broker, device):
    timing = Timing(status_every_s=0.2, reconnect_min_s=0.1, reconnect_max_s=0.5)
    sync = Sync(broker.url, device=DEVICE, store_path=device.path, clock=SystemClock(),
                timing=timing, health=lambda: {"camera": "ok", "policy_version": 7})
    decide(device, 3)
    seen: list = []
    sync.start()
    watcher = None
    try:
        wait_for(lambda: sync.connected, "the device online")
        # A late subscriber still learns the device's state: the status is retained.
        watcher = raw_client(broker, f"cp/v1/{DEVICE}/status", seen)
        wait_for(lambda: len(seen) >= 3, "three status messages")
    finally:
        sync.stop()
        if watcher:
            watcher.disconnect()
    statuses = [json.loads(payload) for _, _, payload in seen]
    assert set(statuses[0]) == STATUS_FIELDS and statuses[0]["online"] is True
    assert statuses[0]["camera"] == "ok" and statuses[0]["thermal"] == "unknown"
    assert statuses[0]["policy_version"] == 7 and statuses[0]["trustlist_version"] is None
    assert statuses[0]["alarm"] is None
    first_ts = next(device.records())["ts"]
    assert all(s["backlog"] == 3 and s["oldest_unsynced"] == first_ts for s in statuses)
    assert [s["ts"] for s in statuses] == sorted(s["ts"] for s in statuses)
    assert len({s["boot_id"] for s in statuses}) == 1


def test_network_cut_and_half_open_connection(tmp_path, broker, device):
    receiver, storage = start_receiver(broker.url, tmp_path / "district.db")
    proxy = Proxy(broker.port)      # between the device and the broker only
    sync = Sync(proxy.url, device=DEVICE, store_path=device.path, clock=SystemClock(),
                timing=dataclasses.replace(FAST, keepalive_s=1))
    sync.start()
    try:
        for fault in (CUT, BLACKHOLE):
            decide(device, 50)
            sync.notify()
            wait_for(lambda: device.backlog()[0] == 0, "delivery before the fault")
            wait_for(lambda: _registry(tmp_path / "district.db").get("online") is True,
                     "the device online")
            proxy.mode = fault
            decide(device, 50)
            sync.notify()
            wait_for(lambda: not sync.connected, f"the device to notice the {fault}")
            wait_for(lambda: _registry(tmp_path / "district.db").get("online") is False,
                     f"the broker to notice the {fault} (last will)")
            assert device.backlog()[0] == 50
            proxy.mode = FORWARD
            wait_for(lambda: device.backlog()[0] == 0, f"delivery after the {fault}")
    finally:
        sync.stop()
        proxy.close()
        receiver.stop()
        storage.close()
    assert_exactly_once(device, district_rows(tmp_path / "district.db"))


def test_alarm_is_published_at_once(tmp_path, broker, device):
    health = {"alarm": None}
    sync = Sync(broker.url, device=DEVICE, store_path=device.path, clock=SystemClock(),
                timing=FAST, health=lambda: dict(health))
    seen: list = []
    sync.start()
    watcher = None
    try:
        wait_for(lambda: sync.connected, "the device online")
        watcher = raw_client(broker, f"cp/v1/{DEVICE}/status", seen)
        wait_for(lambda: len(seen) == 1, "the retained status")
        health["alarm"] = "disk_full"   # as the controller's store reports a failed commit
        sync.notify()
        wait_for(lambda: len(seen) == 2, "a status carrying the alarm", timeout=5)
    finally:
        sync.stop()
        if watcher:
            watcher.disconnect()
    first, second = (json.loads(payload) for _, _, payload in seen[:2])
    assert (first["alarm"], second["alarm"]) == (None, "disk_full")
    assert isinstance(second["disk_free_mb"], int)


def test_receivers_killed_at_random_moments_and_restarted(tmp_path, broker, device):
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "sqlite:///district.db"\n')
    command = [sys.executable, "-m", "cli.main", "district", "serve", "--config",
               str(config)]
    # Two workers share the subscription; SIGKILL lands wherever it lands, including
    # between a commit and its ack.
    workers = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(2)]
    sync = start_sync(broker.url, device)
    total, rng, kills = 600, random.Random(7), 0
    producer_store = Store(device.path)
    producer = threading.Thread(target=_produce, args=(producer_store, sync, total))
    try:
        producer.start()
        while producer.is_alive() or kills < 4:
            time.sleep(rng.uniform(0.2, 0.8))
            victim = kills % 2
            workers[victim].kill()
            workers[victim].wait(timeout=5)
            workers[victim] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            kills += 1
        producer.join(timeout=30)
        wait_for(lambda: device.backlog()[0] == 0, "the backlog drained", timeout=60)
    finally:
        sync.stop()
        for worker in workers:
            worker.kill()
            worker.wait(timeout=5)
        producer_store.close()
    assert_delivered(device, tmp_path / "district.db", total, f"receiver SIGKILLs={kills}")
