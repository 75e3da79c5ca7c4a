"""The measurement the controller gets: screened, fresh, waited for within bounds, logged."""

from __future__ import annotations

import logging
import threading

from drivers.base import ThermalReading, ThermalSensor
from edge.thermal import ThermalMonitor
from models.policy import Policy
from tests.support.clock import FakeClock


class IdleSensor(ThermalSensor):
    """A sensor the tests feed through the monitor's add(); read() reports nothing."""

    fault = False

    def read(self, timeout: float):
        return None


def feed(monitor: ThermalMonitor, clock: FakeClock, celsius: float, seconds: float) -> None:
    for _ in range(round(seconds / 0.08)):
        clock.advance(0.08)
        monitor.add(ThermalReading(celsius, 24.0, clock.monotonic(), "gy-mcu90614"))


def test_steady_readings_give_the_estimate():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 36.5, 2.0)
    result = monitor.wait_measurement(0)
    assert (result.state, result.temperature_c) == ("ok", 36.5)


def test_offset_from_config_applies():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock, offset_c=0.7)
    feed(monitor, clock, 35.8, 2.0)
    assert monitor.wait_measurement(0).temperature_c == 36.5


def test_the_policy_threshold_decides_the_re_measure():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 24.0, 1.2)
    feed(monitor, clock, 37.1, 0.6)
    assert monitor.wait_measurement(0, Policy(fever_threshold_c=37.3)).state == "retry"
    assert monitor.wait_measurement(0, Policy(fever_threshold_c=38.0)).state == "ok"


def test_silence_is_a_sensor_fault_and_the_wait_is_bounded():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 36.5, 2.0)
    clock.advance(2.5)
    assert monitor.wait_measurement(timeout=0.05).state == "sensor_fault"
    assert monitor.wait_measurement(timeout=0.0).temperature_c is None


def test_wait_returns_once_a_window_is_ready_and_logs_it(caplog):
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 24.0, 1.2)
    feeder = threading.Thread(target=feed, args=(monitor, clock, 38.2, 1.2))
    caplog.set_level(logging.INFO, logger="checkpoint")
    feeder.start()
    result = monitor.wait_measurement(timeout=5.0)
    feeder.join()
    assert (result.state, result.temperature_c, result.fever) == ("ok", 38.2, True)
    line = caplog.messages[-1]
    assert line.startswith("event=screening state=ok temperature_c=38.2")
    assert "kind=screening_estimate" in line


def test_each_presentation_is_measured_from_readings_after_the_last_one():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 24.0, 1.2)
    feed(monitor, clock, 38.4, 0.6)
    first = monitor.wait_measurement(0, shown_at=clock.monotonic() - 0.4)
    assert (first.state, first.temperature_c) == ("ok", 38.4)
    feed(monitor, clock, 38.4, 0.6)      # still the same reading: nobody else came
    second = monitor.wait_measurement(0, shown_at=clock.monotonic())
    assert (second.state, second.temperature_c) == ("unseparated", None)
    feed(monitor, clock, 24.0, 0.3)
    feed(monitor, clock, 36.5, 0.4)      # a gap, then the next person
    third = monitor.wait_measurement(0, shown_at=clock.monotonic() - 0.2)
    assert (third.state, third.temperature_c, third.fever) == ("ok", 36.5, False)


def test_a_queued_scan_does_not_wait_again_in_full():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 24.0, 1.2)
    shown = clock.monotonic()
    feed(monitor, clock, 24.0, 3.0)      # the scan waited in the queue behind a slow one
    waits = []
    condition_wait = monitor._changed.wait
    monitor._changed.wait = lambda timeout=None: waits.append(timeout) or condition_wait(0)
    result = monitor.wait_measurement(timeout=2.5, shown_at=shown)
    assert result.state == "out_of_range" and waits == []   # its 2.5 s had run out
    fresh = monitor.wait_measurement(timeout=0.3, shown_at=clock.monotonic())
    assert fresh.state == "unseparated" and waits      # a fresh scan waits for its presenter


def test_an_unseparated_presenter_is_not_waited_for_past_their_time_to_step_up():
    clock = FakeClock()
    monitor = ThermalMonitor(IdleSensor(), clock=clock)
    feed(monitor, clock, 24.0, 1.2)
    feed(monitor, clock, 36.5, 0.6)
    assert monitor.wait_measurement(0, shown_at=clock.monotonic()).state == "ok"
    feed(monitor, clock, 36.5, 0.6)      # the same reading: the next presenter is not seen
    waits = []
    condition_wait = monitor._changed.wait
    monitor._changed.wait = lambda timeout=None: waits.append(timeout) or condition_wait(0)
    late = monitor.wait_measurement(2.5, shown_at=clock.monotonic() - 0.35)
    assert late.state == "unseparated" and waits == []   # a change now would be someone else
