"""The real PN532 driver (pyserial, codec, commands, thread) against the simulated PN532
on a real pseudo-terminal."""

from __future__ import annotations

import os
import re

import pytest

from drivers.base import DriverError
from drivers.clock import SystemClock
from drivers.reader import pn532_url
from drivers.reader.pn532 import Pn532Reader
from drivers.sim.pn532 import DEFAULT_REGISTERS, FAULTS, Pn532Simulator
from drivers.urls import parse_url
from tests.support.waiting import wait_for

UID4, UID7, UID10 = bytes.fromhex("04a1b2c3"), bytes.fromhex("04112233445566"), bytes(range(1, 11))
CNID = bytes.fromhex("0123456789abcdef")
NOT_ANSWERING = "fault: reader not answering; reopening"


@pytest.fixture
def simulator():
    with Pn532Simulator() as sim:
        yield sim


def open_reader(port: str, **options) -> Pn532Reader:
    reader = Pn532Reader(port, clock=SystemClock(), reopen_first_s=0.05, **options)
    wait_for(lambda: reader.health == "ok", "the reader woken up", 10)
    return reader


def polls(sim: Pn532Simulator) -> int:
    return sum(code == 0x4A for code, _ in list(sim.commands))


def test_wake_up_is_what_a_pn532_needs_first(simulator):
    with open_reader(simulator.port) as reader:
        assert reader.firmware == (1, 6)
        first = list(simulator.commands)[:3]
        assert first == [(0x14, bytes.fromhex("011401")), (0x02, b""),
                         (0x32, bytes.fromhex("05ff0102"))]
        assert not simulator.unknown


@pytest.mark.parametrize("uid", [UID4, UID7, UID10], ids=["4", "7", "10"])
def test_a_type_a_card_is_read_with_its_uid(simulator, uid):
    with open_reader(simulator.port) as reader:
        simulator.present_card(uid)
        tap = reader.read(timeout=5)
        assert (tap.kind, tap.number) == ("mifare", uid)
        assert reader.counters()["reader_taps"] == 1


def test_an_id_card_is_read_through_the_type_b_sequence(simulator):
    with open_reader(simulator.port) as reader:
        simulator.present_id_card(CNID)
        tap = reader.read(timeout=5)
        assert (tap.kind, tap.number) == ("cnid", CNID)
        sent = [params for code, params in list(simulator.commands) if code == 0x42]
        assert sent[:3] == [bytes.fromhex("050000"), bytes.fromhex("1d000000000008" "0108"),
                            bytes.fromhex("0036000008")]
        simulator.remove()
        before = polls(simulator)
        wait_for(lambda: polls(simulator) >= before + 2, "two polls with no card")
        # Put back after every Type B try: each poll cycle, card or none, starts from them.
        seen = list(simulator.registers_at_poll)
        assert len(seen) >= 3 and all(registers == DEFAULT_REGISTERS for registers in seen)
        assert not simulator.unknown


def test_one_tap_per_presentation(simulator):
    with open_reader(simulator.port) as reader:
        simulator.present_card(UID4)
        assert reader.read(timeout=5).number == UID4
        before = polls(simulator)
        wait_for(lambda: polls(simulator) >= before + 5, "five more polls with the card on")
        assert reader.read(timeout=0) is None           # left on the reader: no second tap
        simulator.remove()
        before = polls(simulator)
        wait_for(lambda: polls(simulator) >= before + 3, "the card seen away")
        simulator.present_card(UID4)
        assert reader.read(timeout=5).number == UID4    # held to it again: a new tap
        assert reader.counters()["reader_taps"] == 2


@pytest.mark.parametrize("fault", FAULTS)
def test_each_corruption_is_refused_and_counted(simulator, fault):
    with open_reader(simulator.port) as reader:
        before = reader.counters()["reader_frames_rejected"]
        for _ in range(3):
            simulator.inject(fault)
        simulator.present_card(UID7)
        tap = reader.read(timeout=5)
        assert (tap.kind, tap.number) == ("mifare", UID7)
        assert simulator.faults_injected[fault] == 3
        assert reader.counters()["reader_frames_rejected"] > before
        simulator.present_id_card(CNID)
        tap = reader.read(timeout=5)
        assert (tap.kind, tap.number) == ("cnid", CNID)
        assert reader.read(timeout=0.3) is None and reader.counters()["reader_taps"] == 2
        assert reader.health == "ok"


def test_garbage_between_frames_makes_no_tap(simulator):
    import random

    rng = random.Random(5)
    with open_reader(simulator.port) as reader:
        for _ in range(50):
            simulator.garbage(rng.randbytes(rng.randrange(1, 40)) + b"\x00\x00\xff")
        simulator.present_card(UID4)
        assert reader.read(timeout=5).number == UID4
        assert reader.read(timeout=0.3) is None
        assert reader.counters()["reader_taps"] == 1


def test_a_reader_that_stops_answering_is_reopened_and_woken(tmp_path):
    link = tmp_path / "ttyUSB-reader"
    first = Pn532Simulator()
    link.symlink_to(first.port)
    try:
        with open_reader(str(link)) as reader:
            first.answering = False
            wait_for(lambda: reader.health == NOT_ANSWERING, "the dead reader seen")
            with Pn532Simulator() as second:            # another board behind the same name
                os.unlink(link)
                link.symlink_to(second.port)
                wait_for(lambda: reader.health == "ok", "the new reader woken", 15)
                assert reader.counters()["reader_reopens"] >= 1
                second.present_id_card(CNID)
                assert reader.read(timeout=5).number == CNID
    finally:
        first.stop()


def test_unplug_and_replug_are_survived(tmp_path):
    link = tmp_path / "ttyUSB-reader"
    first = Pn532Simulator()
    link.symlink_to(first.port)
    with open_reader(str(link)) as reader:
        first.present_card(UID4)
        assert reader.read(timeout=5).number == UID4
        first.stop()
        wait_for(lambda: reader.health.startswith("fault: "), "the unplug seen")
        with Pn532Simulator() as second:
            os.unlink(link)
            link.symlink_to(second.port)
            second.present_card(UID10)
            tap = reader.read(timeout=15)
            assert (tap.kind, tap.number) == ("mifare", UID10)
            assert reader.health == "ok" and reader.counters()["reader_reopens"] >= 1


@pytest.mark.parametrize("url, message", [
    ("serial:///dev/ttyUSB0?protocol=acr122", "protocol='acr122': allowed: pn532"),
    ("serial:///dev/ttyUSB0?baud=9600", "unknown option(s) baud; allowed: protocol"),
    ("serial://", "no device path"),
    ("serial:///dev/no-such-tty?protocol=pn532", "cannot open serial port /dev/no-such-tty"),
    ("spy:///dev/ttyUSB0?colour=1", "unknown option(s) colour"),
])
def test_bad_urls_are_named(url, message):
    with pytest.raises(DriverError, match=re.escape(message)):
        spec = parse_url(url, "reader", pn532_url.URL_OPTIONS)
        pn532_url.from_url(spec, clock=SystemClock())


def test_a_url_opens_the_reader(simulator):
    spec = parse_url(f"serial://{simulator.port}?protocol=pn532", "reader",
                     pn532_url.URL_OPTIONS)
    with pn532_url.from_url(spec, clock=SystemClock()) as reader:
        wait_for(lambda: reader.health == "ok", "the reader woken up", 10)
        simulator.present_card(UID4)
        assert reader.read(timeout=5).number == UID4


@pytest.mark.parametrize("scheme", ["serial", "spy"])
def test_the_registry_opens_a_pn532_by_url(simulator, scheme, tmp_path):
    from drivers import registry
    trace = tmp_path / "spy.txt"
    extra = f"&file={trace}" if scheme == "spy" else ""
    url = f"{scheme}://{simulator.port}?protocol=pn532{extra}"
    with registry.open_reader(url, clock=SystemClock()) as reader:
        wait_for(lambda: reader.health == "ok", "the reader woken up", 10)
        simulator.present_id_card(CNID)
        assert reader.read(timeout=5).number == CNID
    if scheme == "spy":
        assert "TX" in trace.read_text() and "RX" in trace.read_text()   # every byte traced


def test_unread_taps_push_out_the_oldest_counted(simulator):
    from drivers.reader.pn532 import QUEUE_LEN

    uids = [bytes((0x04, 0, 0, n)) for n in range(QUEUE_LEN + 2)]
    with open_reader(simulator.port) as reader:
        for count, uid in enumerate(uids, 1):   # one card after another, nobody reading
            simulator.present_card(uid)
            wait_for(lambda n=count: reader.counters()["reader_taps"] == n, "each card's tap")
        assert reader.counters()["reader_taps_dropped"] == 2
        assert [reader.read(timeout=0).number for _ in range(QUEUE_LEN)] == uids[2:]
