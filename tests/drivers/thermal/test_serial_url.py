"""A technician's pyserial URLs for the sensor: a serial-to-network bridge (`socket://`),
and `spy://`, which logs every byte, both opened by the real driver through pyserial."""

from __future__ import annotations

import socket
import threading

import pytest

from drivers import registry
from drivers.base import DriverError
from drivers.clock import SystemClock
from drivers.sim.thermal import ThermalSimulator
from drivers.thermal.gy90614 import encode_frame
from drivers.thermal.serial_url import port_url


class Bridge:
    """A TCP server that streams GY-MCU90614 frames to whoever connects, as a serial
    device server in front of a sensor does."""

    def __init__(self, object_c: float) -> None:
        self.frame = encode_frame(object_c, 25.0)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self._server.accept()
        with connection:
            while not self._stop.wait(0.05):    # the sensor's own pace, 20 frames a second
                try:
                    connection.sendall(self.frame)
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._server.close()


def test_a_sensor_behind_a_network_bridge_is_read_over_socket():
    bridge = Bridge(36.62)
    try:
        url = f"socket://127.0.0.1:{bridge.port}?protocol=gy-mcu90614"
        with registry.open_thermal(url, clock=SystemClock()) as sensor:
            readings = [sensor.read(timeout=5.0) for _ in range(3)]
    finally:
        bridge.close()
    assert [r.object_c for r in readings] == [36.62] * 3
    assert sensor.counters()["sensor_frames"] >= 3


def test_spy_logs_every_byte_while_the_driver_reads(tmp_path):
    trace = tmp_path / "trace.txt"
    with ThermalSimulator(profile="fever") as simulator, registry.open_thermal(
            f"spy://{simulator.port}?file={trace}&protocol=gy-mcu90614",
            clock=SystemClock()) as sensor:
        reading = sensor.read(timeout=5.0)
    assert reading is not None and reading.object_c >= 38.0
    lines = trace.read_text().upper().splitlines()
    assert any(" TX " in line and "A5 45 EA" in line for line in lines)  # the stream command
    assert sum(" RX " in line for line in lines) >= 2                   # and what came back


@pytest.mark.parametrize("url, passed", [
    ("serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=9600", "/dev/ttyUSB0"),
    ("spy:///dev/ttyUSB0?file=t.txt&baud=auto&color", "spy:///dev/ttyUSB0?file=t.txt&color"),
    ("socket://bridge.local:4001?protocol=ascii&logging=debug",
     "socket://bridge.local:4001?logging=debug"),
    ("rfc2217://bridge.local:2217?poll_modem&timeout=3", "rfc2217://bridge.local:2217?"
                                                         "poll_modem&timeout=3"),
])
def test_pyserial_gets_its_own_options_only(url, passed):
    assert port_url(registry.parse("thermal", url)) == passed


def test_a_typo_in_a_pyserial_option_is_refused_before_pyserial_sees_it():
    with pytest.raises(DriverError, match="unknown option.s. loging; allowed: protocol, baud, "
                                          "logging"):
        registry.open_thermal("socket://127.0.0.1:9?loging=debug", clock=SystemClock())
