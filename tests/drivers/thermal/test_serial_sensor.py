"""The real serial driver against the simulated sensor on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess

import pytest

from drivers import registry
from drivers.base import DriverError
from drivers.clock import SystemClock
from drivers.sim.thermal import FAULTS, ThermalSimulator, profile_temperature
from drivers.thermal import gy90614
from drivers.thermal.serial_sensor import SerialThermal
from tests.support.paths import CHECKPOINT_SCRIPT
from tests.support.waiting import wait_until


def readings(sensor, count: int, timeout: float = 3.0) -> list[float]:
    values = []
    for _ in range(count):
        reading = sensor.read(timeout=timeout)
        assert reading is not None, f"no reading after {values}; {sensor.stats()}"
        values.append(reading.object_c)
    return values




def test_normal_profile_readings_arrive():
    with registry.open_thermal("sim://?profile=normal", clock=SystemClock()) as sensor:
        reading = sensor.read(timeout=3.0)
        values = [reading.object_c, *readings(sensor, 4)]
        assert reading.protocol == "gy-mcu90614"
        assert 24.0 < reading.ambient_c < 26.0
        assert all(36.3 <= v <= 36.9 for v in values)
        assert (sensor.state, sensor.fault, sensor.locked_baud) == ("ok", False, 9600)


def test_fever_profile_reads_fever():
    with registry.open_thermal("sim://?profile=fever", clock=SystemClock()) as sensor:
        assert all(38.0 <= v <= 38.8 for v in readings(sensor, 5))


def test_injected_faults_are_survived():
    url = f"sim://?faults={','.join(FAULTS)}&fault_every=2"
    with registry.open_thermal(url, clock=SystemClock()) as sensor:
        values = readings(sensor, 16)
        simulator = sensor.simulator
        assert all(simulator.faults_injected[name] >= 1 for name in FAULTS), simulator.stats()
        assert 34.18 in values
        assert all(36.3 <= v <= 36.9 or v == 34.18 for v in values)
        stats = sensor.stats()
        assert stats["checksum_failures"] >= 1 and stats["discarded_bytes"] > 0
        assert sensor.state == "ok"


def test_scene_temperature_is_what_the_sensor_reports():
    class Scene:
        def temperature_at(self, t_mono: float) -> float:
            return 37.9

    with registry.open_thermal("sim://", clock=SystemClock(), scene=Scene()) as sensor:
        assert readings(sensor, 3) == [37.9] * 3


def test_silence_becomes_a_fault():
    with ThermalSimulator(profile="fault") as simulator, \
            SerialThermal(simulator.port, clock=SystemClock(), fault_after_s=0.5) as sensor:
        readings(sensor, 3)
        while sensor.read(timeout=1.0) is not None:
            pass
        assert (sensor.state, sensor.fault) == ("silent", True)


def test_autodetect_finds_115200():
    with ThermalSimulator(profile="normal", baud=115200) as simulator, \
            SerialThermal(simulator.port, clock=SystemClock()) as sensor:
        assert all(36.3 <= v <= 36.9 for v in readings(sensor, 2, timeout=4.0))
        assert sensor.locked_baud == 115200
        assert simulator.garbled_frames >= 1


def test_configured_baud_is_tried_first_then_the_usual_ones():
    with ThermalSimulator(profile="normal", baud=115200) as simulator, \
            SerialThermal(simulator.port, baud=9600, clock=SystemClock()) as sensor:
        assert sensor.read(timeout=0.8) is None      # 9600 first: noise only
        assert sensor.stats()["discarded_bytes"] > 0 and sensor.baud == 9600
        assert all(36.3 <= v <= 36.9 for v in readings(sensor, 2, timeout=4.0))
        assert sensor.locked_baud == 115200


def test_sensor_in_query_mode_is_told_to_stream():
    with ThermalSimulator(autostart=False) as simulator, \
            SerialThermal(simulator.port, clock=SystemClock()) as sensor:
        readings(sensor, 3)
        assert simulator.continuous


def test_query_command_gets_exactly_one_frame():
    import serial

    with ThermalSimulator(autostart=False) as simulator, \
            serial.Serial(simulator.port, 9600, timeout=0.5) as port:
        port.write(gy90614.command(gy90614.CMD_QUERY))
        frame = port.read(9)
        assert len(gy90614.Framer().feed(frame)) == 1
        assert port.read(9) == b""


def test_unplugged_port_is_reopened(tmp_path):
    link = tmp_path / "ttyUSB-thermal"     # the stable name udev gives a USB adapter
    first = ThermalSimulator()
    link.symlink_to(first.port)
    with SerialThermal(str(link), clock=SystemClock()) as sensor:
        readings(sensor, 2)
        first.stop()
        assert wait_until(lambda: sensor.state == "disconnected"), sensor.stats()
        assert sensor.fault
        with ThermalSimulator(profile="fever") as second:
            os.unlink(link)
            link.symlink_to(second.port)
            assert wait_until(lambda: sensor.reopens == 1)
            values = [v for v in readings(sensor, 8) if v >= 38.0]
            assert values and sensor.state == "ok"


@pytest.mark.parametrize("url, message", [
    ("serial:///dev/ttyUSB0?parity=N", "unknown option(s) parity; allowed: protocol, baud"),
    ("serial:///dev/ttyUSB0?baud=fast", "baud='fast': allowed: auto"),
    ("serial:///dev/ttyUSB0?protocol=mlx", "allowed: gy-mcu90614, gy-mcu90615, gy-mcu90640, "
                                           "ascii"),
    ("sim://?rate=3", "rate='3': allowed with protocol gy-mcu90640: 0.5, 1, 2, 4, 8"),
    ("sim://?protocol=gy-mcu90640&baud=9601", "baud 9601 is not supported"),
    ("serial://", "no device path"),
    ("serial:///dev/no-such-tty", "cannot open serial port /dev/no-such-tty"),
    ("sim://?profile=sunny", "profile='sunny': allowed: normal"),
    ("sim://?colour=red", "unknown option(s) colour"),
])
def test_bad_urls_are_named(url, message):
    with pytest.raises(DriverError, match=re.escape(message)):
        registry.open_thermal(url, clock=SystemClock())


def test_cli_reads_three_json_lines_from_a_device_path():
    with ThermalSimulator(profile="edge") as simulator:
        result = subprocess.run([CHECKPOINT_SCRIPT, "thermal", "read", simulator.port,
                                 "--count", "3"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert set(line) == {"ts", "protocol", "object_c", "ambient_c"}
        assert line["protocol"] == "gy-mcu90614" and 37.0 <= line["object_c"] <= 37.6
        assert line["ts"].endswith("Z") and len(line["ts"]) == 24


def test_cli_reports_a_missing_port_in_one_line():
    result = subprocess.run([CHECKPOINT_SCRIPT, "thermal", "read", "/dev/no-such-tty"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no-such-tty" in result.stderr


def test_cli_simulator_serves_a_pty_until_interrupted():
    server = subprocess.Popen([CHECKPOINT_SCRIPT, "sim", "thermal", "--profile", "fever"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        announced = json.loads(server.stdout.readline())
        assert announced["profile"] == "fever" and announced["port"].startswith("/dev/")
        with SerialThermal(announced["port"], clock=SystemClock()) as sensor:
            assert all(38.0 <= v <= 38.8 for v in readings(sensor, 3))
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0
        assert announced["port"] in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_walk_profile_passes_by():
    rng = random.Random(0)
    temps = [profile_temperature("walk", tenth / 10, rng) for tenth in range(60)]
    assert temps[0] < 25.0 and temps[-1] < 25.0
    assert max(temps) > 36.3 and sum(t > 36.3 for t in temps) >= 15
