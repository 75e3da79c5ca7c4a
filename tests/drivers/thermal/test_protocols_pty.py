"""Every protocol end to end on a pty: every fault mixed in, autodetect, the commands.

The simulator gives each frame a unique ambient value (a counter) and keeps a journal of
what it sent and how it damaged it, so the test can say exactly which readings the
driver had to deliver, and that nothing else came through.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time

import pytest

from drivers.clock import SystemClock
from drivers.sim.thermal import FAULTS, ThermalSimulator
from drivers.thermal import gy90640
from drivers.thermal.serial_sensor import SerialThermal
from tests.support.paths import CHECKPOINT_SCRIPT
from tests.support.waiting import wait_until

MIXED_FRAMES = 21               # every fault once (fault_every=3), silence included
# A line protocol has no length: a line left without its newline swallows the next one.
LINE_PROTOCOLS = ("ascii",)


def counter():
    values = (round(20.0 + n / 100, 2) for n in itertools.count())
    return lambda: next(values)


def mixed_fault_run(protocol: str, baud: int | None = None, rate: float | None = None):
    """Figures of one run: frames sent / intact / read / rejected, corrupt ones accepted."""
    simulator = ThermalSimulator(protocol=protocol, baud=baud, faults=FAULTS, fault_every=3,
                                 ambient=counter(), seed=7, autostart=protocol == "ascii")
    if rate:
        simulator.speaker.rate_hz = rate
    with simulator, SerialThermal(simulator.port, protocol=protocol, baud=simulator.baud,
                                  clock=SystemClock()) as sensor:
        deadline = time.monotonic() + 15
        while simulator.frames_sent < MIXED_FRAMES and time.monotonic() < deadline:
            time.sleep(0.05)
        journal = list(simulator.journal)[:MIXED_FRAMES]
        last = max(s.ambient_c for s in journal if s.intact)
        got = []
        while not got or got[-1].ambient_c < last:
            reading = sensor.read(timeout=3.0)
            assert reading is not None, (got, sensor.stats(), simulator.stats())
            got.append(reading)
        stats = sensor.stats()
    expected = _deliverable(protocol, journal)
    if protocol in LINE_PROTOCOLS:  # it streams before the port opens: a first line may be cut
        expected = expected[expected.index(got[0].ambient_c):] if got[0].ambient_c in expected \
            else expected
    sent_values = {s.ambient_c for s in journal}
    return {"protocol": protocol, "sent": len(journal),
            "intact": sum(s.intact for s in journal), "deliverable": len(expected),
            "read": len(got), "rejected": len(journal) - len(got),
            "corrupt_accepted": sum(r.ambient_c not in sent_values or
                                    r.ambient_c not in {s.ambient_c for s in journal
                                                        if s.intact} for r in got),
            "readings": [r.ambient_c for r in got], "expected": expected,
            "driver": stats}


def _deliverable(protocol: str, journal) -> list[float]:
    def swallowed(before, sent) -> bool:
        """Garbage before a line, on the same line, spoils the line."""
        if protocol not in LINE_PROTOCOLS:
            return False
        return sent.fault == "fake_header" or (before is not None and before.last_byte != 0x0A)

    return [s.ambient_c for before, s in zip([None, *journal], journal, strict=False)
            if s.intact and not swallowed(before, s)]


@pytest.mark.parametrize("protocol, baud, rate", [
    ("gy-mcu90614", 9600, None), ("gy-mcu90615", 115200, None),
    ("gy-mcu90640", 460800, 8.0), ("ascii", 115200, None)])
def test_every_fault_mixed_in_no_corrupt_frame_and_every_good_one(protocol, baud, rate):
    figures = mixed_fault_run(protocol, baud, rate)
    assert figures["corrupt_accepted"] == 0, figures
    assert figures["readings"] == figures["expected"], figures
    assert figures["read"] >= figures["deliverable"] - 2, figures
    assert figures["driver"]["discarded_bytes"] > 0


@pytest.mark.parametrize("protocol, baud", [
    ("gy-mcu90614", 115200), ("gy-mcu90615", 9600), ("gy-mcu90640", 460800),
    ("ascii", 57600)])
def test_autodetect_finds_the_simulators_baud(protocol, baud):
    with ThermalSimulator(protocol=protocol, baud=baud) as simulator, \
            SerialThermal(simulator.port, protocol=protocol, clock=SystemClock()) as sensor:
        for _ in range(2):
            assert sensor.read(timeout=6.0) is not None, sensor.stats()
        assert sensor.locked_baud == baud and simulator.garbled_frames >= 1
        assert getattr(simulator.speaker, "saved_baud", None) is None   # never sent a baud command


def test_gy90640_in_query_mode_is_told_to_stream():
    with ThermalSimulator(protocol="gy-mcu90640", baud=460800, autostart=False) as simulator, \
            SerialThermal(simulator.port, protocol="gy-mcu90640", baud=460800,
                          clock=SystemClock()) as sensor:
        reading = sensor.read(timeout=3.0)
        assert reading is not None and simulator.continuous
        assert 36.4 <= reading.object_c <= 36.8 and reading.max_c >= reading.object_c


def test_gy90640_answers_rate_query_and_emissivity_commands():
    import serial  # what a technician's script would use

    with ThermalSimulator(protocol="gy-mcu90640", baud=460800, autostart=False) as simulator, \
            serial.Serial(simulator.port, 460800, timeout=1.0) as port:
        port.write(gy90640.command(gy90640.CMD_QUERY_EMISSIVITY, 1))
        assert port.read(4) == gy90640.encode_emissivity(95)
        port.write(gy90640.command(gy90640.CMD_MODE, gy90640.MODE_QUERY))
        frames = gy90640.Framer().feed(port.read(gy90640.FRAME_LEN))
        port.timeout = 0.3
        assert len(frames) == 1 and port.read(10) == b""
        port.write(gy90640.command(gy90640.CMD_RATE, 4))
        port.write(gy90640.command(gy90640.CMD_BAUD, 3) + gy90640.command(gy90640.CMD_SAVE, 1))
        speaker = simulator.speaker
        assert wait_until(lambda: speaker.saved)
        assert (speaker.rate_hz, speaker.saved_baud, speaker.continuous) == (8.0, 460800, False)




def test_supervisor_ends_a_partial_frame_marks_stale_and_reopens_a_silent_port():
    # The `fault` profile sends five frames, the fifth cut short, then nothing.
    with ThermalSimulator(profile="fault", faults=("truncated",), fault_every=5,
                          autostart=False) as simulator, \
            SerialThermal(simulator.port, baud=9600, clock=SystemClock(),
                          reopen_after_s=1.5) as sensor:
        assert all(sensor.read(timeout=3.0) is not None for _ in range(4))
        assert wait_until(lambda: sensor.state == "stale"), sensor.stats()
        assert wait_until(lambda: sensor.flushes >= 1), sensor.stats()
        assert sensor.stats()["discarded_bytes"] >= 5
        assert wait_until(lambda: sensor.reopens >= 1, timeout=4.0), sensor.stats()
        assert sensor.read(timeout=0.1) is None and simulator.frames_sent == 5


def test_cli_reads_the_array_face_estimate_and_hottest_pixel():
    result = subprocess.run([CHECKPOINT_SCRIPT, "thermal", "read",
                             "sim://?baud=460800&rate=8&profile=fever", "--protocol",
                             "gy-mcu90640", "--count", "2"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for line in map(json.loads, result.stdout.splitlines()):
        assert set(line) == {"ts", "protocol", "object_c", "ambient_c", "max_c"}
        assert line["protocol"] == "gy-mcu90640" and 38.2 <= line["object_c"] <= line["max_c"]
