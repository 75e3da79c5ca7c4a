"""`checkpoint district devices` lifts backlog, oldest unsynced record, bundle versions,
alarms and the clone flag out of each device's latest status: statuses as the agent makes
them go through a real Mosquitto into the real receiver, on each store; hostile ones are
recorded by the real store and must never show through as anything but null, "unknown"
or a bounded alarm name."""

from __future__ import annotations

import json
import uuid

import pytest

from cli.main import main
from district.receiver import Receiver
from district.registry import MAX_BUNDLES, device_fields
from district.stores import open_store
from edge.status import last_will, status_message
from tests.support.broker import raw_client
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.waiting import wait_for

KEPT = {"device", "online", "status", "last_seen", "flag", "flag_stores", "reader", "stores"}
ADDED = {"backlog", "oldest_unsynced", "bundles", "alarms", "clone_flagged"}
TS = "2026-09-21T14:13:20.000Z"     # the statuses' `ts` (now = 1_790_000_000)
HEALTHY = {"camera": "ok", "thermal": "ok", "gate": "ok", "reader": None,
           "trustlist_version": 4, "revocations_version": 2, "policy_version": 1,
           "roster_version": None, "alarm": None}


def status(device: str, *, backlog=(3, "2026-11-29T08:00:00.000Z"), clock_synced=True,
           **health) -> dict:
    return status_message(device, online=True, now=1_790_000_000.0, boot_id="b",
                          uptime_s=5, backlog=backlog, clock_synced=clock_synced,
                          disk_free_mb=900, health={**HEALTHY, **health})


@pytest.fixture
def district(district_store_url, broker, tmp_path):  # noqa: F811 - the imported fixture
    """A receiver on a fresh store, a device-side MQTT client, the district's config."""
    storage = open_store(district_store_url)
    receiver = Receiver(broker.url, storage)
    device = raw_client(broker, "cp/v1/nobody/ack", [])
    config = tmp_path / "district.toml"
    config.write_text(f'[store]\nurl = "{district_store_url}"\n')
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe")
        yield device, config, district_store_url
    finally:
        device.disconnect()
        device.loop_stop()
        receiver.stop()
        storage.close()


def send(device, name: str, message: dict) -> None:
    device.publish(f"cp/v1/{name}/status", json.dumps(message), qos=1, retain=True)


def listing(capsys, config, *extra: str) -> dict[str, dict]:
    assert main(["district", "devices", "--config", str(config), *extra]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {row["device"]: row for row in rows}


def settled(capsys, config, name: str, ts: str | None) -> dict:
    """The device's row once its status of time `ts` (None: a last will) is recorded."""
    seen: dict = {}

    def arrived() -> bool:
        seen.update(listing(capsys, config))
        return name in seen and seen[name]["status"].get("ts") == ts
    wait_for(arrived, f"{name}'s status of {ts} in the registry")
    return seen[name]


def test_a_healthy_device_with_a_backlog(district, capsys):
    device, config, _ = district
    send(device, "gate-1", status("gate-1"))
    row = settled(capsys, config, "gate-1", TS)
    assert set(row) == KEPT | ADDED         # every field of before is still there
    assert {name: row[name] for name in ADDED} == {
        "backlog": 3, "oldest_unsynced": "2026-11-29T08:00:00.000Z",
        "bundles": {"trustlist": 4, "revocations": 2, "policy": 1, "roster": None},
        "alarms": [], "clone_flagged": False}
    assert row["online"] is True and row["reader"] is None


def test_faults_raise_alarms_and_a_last_will_is_an_uplink_alarm(district, capsys):
    device, config, _ = district
    send(device, "gate-2", status("gate-2", backlog=(0, None), clock_synced=False,
                                  thermal="fault: no data from the sensor",
                                  reader="fault: port gone; reopening", camera="starting",
                                  gate="absent", alarm="disk_full"))
    row = settled(capsys, config, "gate-2", TS)
    assert row["alarms"] == ["clock", "thermal", "reader", "disk_full"]
    assert (row["backlog"], row["oldest_unsynced"]) == (0, None)
    send(device, "gate-2", last_will("gate-2", "b"))
    row = settled(capsys, config, "gate-2", None)
    assert row["alarms"] == ["uplink"]      # a will says nothing of the parts
    assert row["backlog"] is None and row["oldest_unsynced"] is None
    assert row["bundles"] == {"trustlist": None, "revocations": None, "policy": None,
                              "roster": None}


def test_hostile_values_through_the_receiver(district, capsys):
    device, config, _ = district
    message = {**status("gate-3"), "backlog": "3", "oldest_unsynced": "yesterday",
               "trustlist_version": "4", "policy_version": 1.5, "revocations_version": True,
               "camera": {"state": "ok"}, "alarm": "\x1b[2J" * 50,
               "firmware_version": 7, "Evil_version": 9, "x" * 40 + "_version": 1}
    send(device, "gate-3", message)
    row = settled(capsys, config, "gate-3", message["ts"])
    assert (row["backlog"], row["oldest_unsynced"]) == (None, None)
    assert row["bundles"] == {"trustlist": None, "revocations": None, "policy": None,
                              "roster": None, "firmware": 7}
    assert row["alarms"] == ["camera", "alarm"]
    assert row["status"]["backlog"] == "3"      # the status itself is kept as it came


def record(seq: int) -> dict:
    return {"id": str(uuid.uuid4()), "seq": seq, "ts": "2026-11-29T08:00:00.000Z",
            "clock_synced": True, "gate": "east-1", "decision": "pass", "reasons": [],
            "pass_format": "CP1", "issuer": "CN-BJ-110105", "kid": "abcd",
            "subject": "aa" * 16, "color": "green", "pass_exp": None, "tested_at": None,
            "temperature_c": 36.5, "operator": None, "note": None}


def test_a_clone_is_flagged_until_cleared(district, capsys):
    device, config, url = district
    send(device, "gate-4", status("gate-4"))
    settled(capsys, config, "gate-4", TS)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with open_store(url) as store:      # batches from two stores, interleaved: A, B, A
        for seq, store_id in enumerate((first, second, first), start=1):
            store.commit_batch("gate-4", {"schema": "checkpoint.batch/1", "device": "gate-4",
                                          "store": store_id, "batch": str(uuid.uuid4()),
                                          "sent": "2026-11-29T08:00:01.000Z",
                                          "records": [record(seq)]})
    row = listing(capsys, config)["gate-4"]
    assert (row["flag"], row["clone_flagged"], row["alarms"]) == \
        ("two_stores", True, ["two_stores"])
    row = listing(capsys, config, "--clear-flag", "gate-4")["gate-4"]
    assert (row["flag"], row["clone_flagged"], row["alarms"]) == (None, False, [])


@pytest.mark.parametrize(("status", "expected"), [
    ({"backlog": 2**80, "oldest_unsynced": "2026-11-29T16:00:00+08:00"},
     {"backlog": None, "oldest_unsynced": "2026-11-29T08:00:00.000Z"}),
    ({"backlog": -1, "oldest_unsynced": 5}, {"backlog": None, "oldest_unsynced": None}),
    ({"backlog": 7, "oldest_unsynced": "2026-11-29T08:00:00Z" + " " * 100},
     {"backlog": 7, "oldest_unsynced": None}),
    ({"backlog": 7.0, "oldest_unsynced": "99999-01-01"},
     {"backlog": None, "oldest_unsynced": None}),
])
def test_counts_and_times_of_one_status(status, expected):
    fields = device_fields(status, online=True, flag=None)
    assert {name: fields[name] for name in expected} == expected


def test_bundles_are_bounded_and_a_non_status_is_nothing():
    many = {f"kind{index:02d}_version": index for index in range(100)}
    assert len(device_fields(many, online=True, flag=None)["bundles"]) == MAX_BUNDLES
    assert device_fields(["not", "a", "status"], online=False, flag="two_stores") == {
        "backlog": None, "oldest_unsynced": None,
        "bundles": {"trustlist": None, "revocations": None, "policy": None, "roster": None},
        "alarms": ["uplink", "two_stores"], "clone_flagged": True}
