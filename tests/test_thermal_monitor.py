"""The screening estimate the controller gets: fresh skin-range readings only, never invented."""

from __future__ import annotations

import threading

from drivers.base import ThermalReading, ThermalSensor
from drivers.clock import FakeClock
from edge.thermal import ThermalMonitor


class IdleSensor(ThermalSensor):
    """A sensor the tests feed through the monitor's add(); read() reports nothing."""

    fault = False

    def read(self, timeout: float):
        return None


def reading(clock: FakeClock, celsius: float) -> ThermalReading:
    return ThermalReading(celsius, 24.0, clock.monotonic(), "gy-mcu90614")


def monitor_with(clock: FakeClock, temps: list[float], offset: float = 0.0) -> ThermalMonitor:
    monitor = ThermalMonitor(IdleSensor(), clock=clock, offset_c=offset)
    for celsius in temps:
        monitor.add(reading(clock, celsius))
        clock.advance(0.08)
    return monitor


def test_median_of_recent_skin_readings():
    clock = FakeClock()
    result = monitor_with(clock, [24.1, 24.0, 36.4, 36.6, 36.5, 39.9, 36.5]).measurement()
    assert result.state == "ok"
    assert result.temperature_c == 36.5
    assert 0 < result.age_s < 0.1


def test_background_only_is_missing_not_a_normal_value():
    clock = FakeClock()
    result = monitor_with(clock, [24.0] * 10).measurement()
    assert (result.state, result.temperature_c) == ("missing", None)


def test_old_readings_do_not_count():
    clock = FakeClock()
    monitor = monitor_with(clock, [36.5] * 5)
    clock.advance(1.5)
    assert monitor.measurement().state == "missing"


def test_silence_is_a_sensor_fault():
    clock = FakeClock()
    monitor = monitor_with(clock, [36.5] * 5)
    clock.advance(3.5)
    assert monitor.measurement().state == "sensor_fault"


def test_calibration_offset_applies_before_the_range_check():
    clock = FakeClock()
    result = monitor_with(clock, [33.6, 33.8, 33.7], offset=1.0).measurement()
    assert (result.state, result.temperature_c) == ("ok", 34.7)


def test_wait_returns_once_readings_arrive():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feeder = threading.Thread(target=lambda: [monitor.add(reading(clock, 38.2))
                                              for _ in range(3)])
    feeder.start()
    result = monitor.wait_measurement(timeout=5.0)
    feeder.join()
    assert (result.state, result.temperature_c) == ("ok", 38.2)
