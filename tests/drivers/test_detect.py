"""Sensor detection against the real simulator on a pty: every protocol, at its rates,
and ports where nothing or only noise answers."""

from __future__ import annotations

import os
import random
import threading
import tty

import pytest

from drivers.base import DriverError
from drivers.sim.thermal import ThermalSimulator
from drivers.thermal.detect import attempts, detect_sensor, list_serial_ports, same_wire
from drivers.thermal.protocols import PROTOCOLS

# (simulated protocol, its baud) -> the protocol detection names
CASES = {("gy-mcu90614", 9600): "gy-mcu90614",
         ("gy-mcu90614", 115200): "gy-mcu90615",     # same frames: named by the usual rate
         ("gy-mcu90615", 115200): "gy-mcu90615",
         ("gy-mcu90640", 115200): "gy-mcu90640",
         ("gy-mcu90640", 460800): "gy-mcu90640",
         ("ascii", 9600): "ascii",
         ("ascii", 38400): "ascii"}


@pytest.mark.parametrize(("protocol", "baud"), CASES, ids=[f"{p}@{b}" for p, b in CASES])
def test_every_protocol_is_detected_with_its_baud_and_a_reading(protocol, baud):
    # Binary units wait in query mode until told to stream, as after a power-up with
    # auto-output off; the ASCII bridge always streams.
    with ThermalSimulator(protocol=protocol, baud=baud, autostart=protocol == "ascii",
                          source=lambda: 36.4) as simulator:
        found = detect_sensor(simulator.port, timeout_s=15.0)
    assert found.protocol == CASES[protocol, baud]
    assert found.baud == baud
    assert found.reading_c == pytest.approx(36.4, abs=0.6)


def test_the_configured_protocol_and_baud_are_tried_first():
    assert attempts("ascii", 38400)[0] == ("ascii", 38400)
    assert attempts()[0] == ("gy-mcu90614", 9600)
    pairs = attempts()
    assert len(pairs) == len(set(pairs))
    # every protocol at every rate is tried, the 90615 through its twin's tries
    for protocol in PROTOCOLS.values():
        for baud in protocol.bauds:
            assert any(same_wire(name, protocol.name) and rate == baud for name, rate in pairs)


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def test_a_silent_port_names_what_was_tried():
    master, slave, port = _pty()
    try:
        with pytest.raises(DriverError) as caught:
            detect_sensor(port, timeout_s=1.2)
    finally:
        os.close(master)
        os.close(slave)
    message = str(caught.value)
    assert message.startswith(f"no sensor answered on {port}: tried gy-mcu90614@9600")
    assert "more not tried within 1.2 s" in message


def test_a_port_sending_garbage_is_no_sensor():
    master, slave, port = _pty()
    os.set_blocking(master, False)
    stop = threading.Event()
    rng = random.Random(3)

    def noise() -> None:
        while not stop.wait(0.01):
            # a header among the noise, never a whole frame
            try:
                os.write(master, bytes(rng.randrange(256) for _ in range(40)) + b"\x5a\x5a\x45")
            except BlockingIOError:
                pass        # nobody reads: the pty's buffer is full

    writer = threading.Thread(target=noise, daemon=True)
    writer.start()
    try:
        with pytest.raises(DriverError, match=f"no sensor answered on {port}: tried"):
            detect_sensor(port, timeout_s=2.0)
    finally:
        stop.set()
        writer.join()
        os.close(master)
        os.close(slave)


def test_a_missing_port_is_a_driver_error():
    with pytest.raises(DriverError, match="cannot open serial port /dev/ttyNOPE9: "):
        detect_sensor("/dev/ttyNOPE9", timeout_s=1.0)


def test_listed_ports_are_device_paths():
    ports = list_serial_ports()
    assert all(port.startswith("/dev/") and os.path.exists(port) for port in ports)
    assert len(ports) == len(set(ports))
