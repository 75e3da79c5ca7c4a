"""Doctor's reader line against real drivers: the PN532 driver on a simulated PN532 on a
real pty (woken, dead, a card held to it), a port and a node that do not exist, the
simulated readers, a gate without a reader, and a reader without a usable card key; and
the card key among the secrets the permissions line checks."""

from __future__ import annotations

import os
import uuid

import pytest

from drivers.sim.pn532 import Pn532Simulator
from edge.config import load_config
from edge.doctor.configs import check_config
from edge.doctor.files import check_permissions
from edge.doctor.reader import check_reader
from edge.doctor.result import Context
from edge.doctor.runner import CHECKS

CNID = bytes.fromhex("0123456789abcdef")
DEMO_KEY = "demo/card.key"


def reader_context(demo_dir, reader: str | None, *, card_key: str | None = DEMO_KEY,
                   timeout_s: float = 5.0) -> Context:
    """A config beside the demo district (its relative paths are the demo's) with the
    given reader URL and card key."""
    path = demo_dir / f"reader-{uuid.uuid4().hex[:8]}.toml"
    key_line = f'card_key = "{card_key}"\n' if card_key else ""
    reader_table = f'[reader]\nurl = "{reader}"\n' if reader else ""
    path.write_text(f"""
[device]
id = "doctor-0001"
gate = "east-1"
[store]
path = "{demo_dir / 'cp.db'}"
[trust]
roots = ["demo/root-pub.pem"]
trustlist = "demo/trustlist.json"
{key_line}{reader_table}""")
    return Context(load_config(path), timeout_s=timeout_s)


@pytest.fixture
def simulator():
    with Pn532Simulator() as sim:
        yield sim


def test_the_reader_line_comes_right_after_the_gate():
    names = [name for name, _ in CHECKS]
    assert names[names.index("gate") + 1] == "reader"


def test_a_gate_without_a_reader_is_fine(demo_dir):
    found = check_reader(Context(load_config(demo_dir / "checkpoint.toml")))
    assert (found.status, found.detail, found.hint) == ("ok", "no card reader configured",
                                                       None)


def test_a_pn532_that_wakes_names_its_firmware(demo_dir, simulator):
    found = check_reader(reader_context(demo_dir, f"serial://{simulator.port}?protocol=pn532"))
    assert (found.status, found.detail) == ("ok", f"PN532 firmware 1.6 on {simulator.port}: "
                                                  "ready")
    assert (0x02, b"") in list(simulator.commands)      # GetFirmwareVersion was asked


def test_a_card_on_the_reader_during_the_check_is_never_read_out(demo_dir, simulator):
    simulator.present_id_card(CNID)
    found = check_reader(reader_context(demo_dir, f"serial://{simulator.port}"))
    assert found.status == "ok"
    text = f"{found.detail} {found.hint}".lower()
    assert CNID.hex() not in text and "cnid" not in text


def test_a_pn532_that_does_not_answer_fails_with_the_drivers_phrase(demo_dir, simulator):
    simulator.answering = False
    found = check_reader(reader_context(demo_dir, f"serial://{simulator.port}",
                                        timeout_s=3.0))
    assert found.status == "fail"
    assert found.detail == (f"pn532 on {simulator.port}: fault: reader not answering; "
                            "reopening")
    assert found.hint.startswith("check the wiring (TX to RX, RX to TX, ground)")
    assert "HSU" in found.hint


def test_a_reader_that_answers_only_garbled_frames_fails_as_not_ready(demo_dir, simulator):
    for _ in range(1000):       # far more than the check's second of commands
        simulator.inject("error_frame")
    found = check_reader(reader_context(demo_dir, f"serial://{simulator.port}",
                                        timeout_s=2.0))
    assert found.status == "fail"
    assert found.detail.startswith(f"pn532 on {simulator.port}: not ready within 1 s (")
    assert not found.detail.endswith("(0 frames refused)")
    assert found.hint.startswith("something answers, but not as a PN532")


def test_a_pn532_that_stops_answering_later_is_not_reported_by_a_stale_success(
        demo_dir, simulator):
    """After a first check, the same board unplugged: a second check fails."""
    url = f"serial://{simulator.port}"
    assert check_reader(reader_context(demo_dir, url)).status == "ok"
    simulator.stop()
    found = check_reader(reader_context(demo_dir, url, timeout_s=3.0))
    assert found.status == "fail"
    assert found.detail.startswith(f"reader: cannot open serial port {simulator.port}")


def test_a_serial_port_that_does_not_exist_fails_with_its_fix(demo_dir):
    found = check_reader(reader_context(demo_dir, "serial:///dev/ttyNOPE7?protocol=pn532"))
    assert found.status == "fail"
    assert found.detail.startswith("reader: cannot open serial port /dev/ttyNOPE7: ")
    assert found.hint.startswith("set [reader] url to the PN532's port (ports on this "
                                 "machine: ")
    assert "the service user needs the dialout group" in found.hint


def test_a_hid_node_that_does_not_exist_fails_with_its_fix(demo_dir, tmp_path):
    node = tmp_path / "usb-NOPE-event-kbd"
    found = check_reader(reader_context(demo_dir, f"hid://{node}?format=hex"))
    assert found.status == "fail"
    assert found.detail == f"reader: cannot open {node}: No such file or directory"
    assert "ls /dev/input/by-id/*-event-kbd" in found.hint
    assert "the service user needs the input group" in found.hint


def test_a_hid_node_that_opens_is_named_with_its_format(demo_dir, tmp_path):
    """A FIFO stands in for the input node (the hid driver reads it the same way)."""
    node = tmp_path / "usb-READER-event-kbd"
    os.mkfifo(node)
    writer = os.open(node, os.O_RDWR | os.O_NONBLOCK)   # a writer, so it is not "gone"
    try:
        found = check_reader(reader_context(demo_dir, f"hid://{node}?format=hex_reversed"))
    finally:
        os.close(writer)
    assert (found.status, found.detail) == ("ok", f"hid reader {node} "
                                                  "(format=hex_reversed): ready")


@pytest.mark.parametrize("url", ["sim://", "sim://?via=hid&every=0.1"])
def test_a_simulated_reader_is_ok(demo_dir, url):
    found = check_reader(reader_context(demo_dir, url))
    assert (found.status, found.detail) == ("ok", "simulated reader (sim://): ready")


def test_a_reader_without_a_card_key_fails_here_and_in_the_config_line(demo_dir):
    context = reader_context(demo_dir, "sim://", card_key=None)
    found = check_reader(context)
    assert (found.status, found.detail) == (
        "fail", "a card reader is configured, but [trust] card_key is not set")
    assert found.hint.startswith("set [trust] card_key to the district's card key file")
    config = check_config(context)
    assert config.status == "fail"
    assert "[trust] card_key: missing" in config.detail


@pytest.mark.parametrize("content", [None, b"short key"], ids=["missing", "too short"])
def test_a_card_key_that_cannot_be_used_fails(demo_dir, tmp_path, content):
    key = tmp_path / "card.key"
    if content is not None:
        key.write_bytes(content)
    found = check_reader(reader_context(demo_dir, "sim://", card_key=str(key)))
    assert found.status == "fail"
    why = "cannot read: No such file or directory" if content is None else \
        "9 bytes; at least 32 needed"
    assert found.detail.startswith(f"card key {key}: {why}")
    assert "at least 32 bytes, mode 600" in found.hint


def test_a_card_key_readable_by_others_fails_the_permissions_line(demo_dir, tmp_path):
    key = tmp_path / "card.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    found = check_permissions(reader_context(demo_dir, "sim://", card_key=str(key)))
    assert found.status == "fail"
    assert f"{key} is readable by group and others (mode 0644)" in found.detail
    assert f"chmod 600 {key}" in found.hint
    key.chmod(0o600)
    assert check_permissions(reader_context(demo_dir, "sim://",
                                            card_key=str(key))).status == "ok"
