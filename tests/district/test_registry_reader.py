"""`checkpoint district devices` shows each device's card reader state, read from the status
messages the devices publish (through a real Mosquitto into the real receiver, on each
store): ok, a fault and its cause, no reader configured, unknown after a last will; a
hostile value is never shown as a state."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from district.receiver import Receiver
from district.registry import MAX_STATE_CHARS, reader_state
from district.stores import open_store
from edge.status import last_will, status_message
from tests.support.broker import raw_client
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.waiting import wait_for

FAULT = "fault: no answer from the PN532 on /dev/ttyUSB0"


def status(device: str, reader: object) -> dict:
    """A status as the agent makes it, its reader part as given (hostile ones too)."""
    health = {"camera": "ok", "thermal": "ok", "gate": "ok", "reader": reader}
    return status_message(device, online=True, now=1_790_000_000.0, boot_id="b",
                          uptime_s=5, backlog=(0, None), clock_synced=True,
                          disk_free_mb=900, health=health)


@pytest.fixture
def district(district_store_url, broker, tmp_path):  # noqa: F811 - the imported fixture
    """A receiver on a fresh store, a device-side client, and the district's config file."""
    storage = open_store(district_store_url)
    receiver = Receiver(broker.url, storage)
    device = raw_client(broker, "cp/v1/nobody/ack", [])
    config = tmp_path / "district.toml"
    config.write_text(f'[store]\nurl = "{district_store_url}"\n')
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe")
        yield device, config, storage
    finally:
        device.disconnect()
        device.loop_stop()
        receiver.stop()
        storage.close()


def send(device, name: str, message: dict) -> None:
    device.publish(f"cp/v1/{name}/status", json.dumps(message), qos=1, retain=True)


def listing(capsys, config) -> dict[str, dict]:
    assert main(["district", "devices", "--config", str(config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {row["device"]: row for row in rows}


def settled(config, capsys, expected: dict) -> dict[str, dict]:
    """The listing once every device's latest status has been recorded."""
    seen: dict = {}

    def arrived() -> bool:
        seen.update(listing(capsys, config))
        return {name: seen.get(name, {}).get("reader", "absent") for name in expected} \
            == expected
    wait_for(arrived, f"the registry to show {expected}")
    return seen


def test_each_device_reader_state_is_listed(district, capsys):
    device, config, _ = district
    send(device, "gate-ok", status("gate-ok", "ok"))
    send(device, "gate-fault", status("gate-fault", FAULT))
    send(device, "gate-none", status("gate-none", None))
    send(device, "gate-starting", status("gate-starting", "starting"))
    rows = settled(config, capsys, {"gate-ok": "ok", "gate-fault": FAULT,
                                    "gate-none": None, "gate-starting": "starting"})
    assert rows["gate-fault"]["status"]["reader"] == FAULT     # the status itself is kept
    assert rows["gate-none"]["online"] is True


def test_the_latest_status_counts_and_a_last_will_makes_it_unknown(district, capsys):
    device, config, _ = district
    send(device, "gate-1", status("gate-1", "ok"))
    settled(config, capsys, {"gate-1": "ok"})
    send(device, "gate-1", status("gate-1", FAULT))
    settled(config, capsys, {"gate-1": FAULT})
    send(device, "gate-1", last_will("gate-1", "b"))    # the broker's word: nothing known
    rows = settled(config, capsys, {"gate-1": "unknown"})
    assert rows["gate-1"]["online"] is False


def test_a_hostile_reader_value_is_not_shown_as_a_state(district, capsys):
    device, config, _ = district
    send(device, "gate-obj", status("gate-obj", {"state": "ok"}))
    send(device, "gate-esc", status("gate-esc", "ok\x1b[2J"))
    send(device, "gate-num", status("gate-num", 1))
    send(device, "gate-long", status("gate-long", "fault: " + "x" * 5000))
    rows = settled(config, capsys, {"gate-obj": "unknown", "gate-esc": "unknown",
                                    "gate-num": "unknown",
                                    "gate-long": "fault: " + "x" * (MAX_STATE_CHARS - 7)})
    assert len(rows["gate-long"]["reader"]) == MAX_STATE_CHARS


@pytest.mark.parametrize(("message", "state"), [
    ({"reader": "ok"}, "ok"),
    ({"reader": None}, None),
    ({}, "unknown"),                # a release before readers
    ({"reader": ""}, "unknown"),
    ({"reader": True}, "unknown"),
    ({"reader": ["ok"]}, "unknown"),
    ("not a status", "unknown"),
])
def test_reader_state_of_one_status(message, state):
    assert reader_state(message) == state
