"""The thermal side of the agent: read the sensor continuously, keep a screening estimate.

A reader thread takes every verified reading; the controller asks for the current
measurement when a pass is scanned. The estimate is the median of the skin-range readings
of the last window, so it is ready before the code is; the controller waits for one only
when none is fresh, and never longer than it is told. Readings are never replaced by a
normal value: no valid data is `missing`, a dead sensor is `sensor_fault`.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque

from drivers.base import ThermalReading, ThermalSensor
from edge.policy import Measurement
from edge.worker import Worker

SKIN_RANGE_C = (34.0, 43.0)     # what a person at the gate can read after calibration
WINDOW_S = 1.0                  # readings older than this do not count
MIN_READINGS = 3                # fewer in the window: no estimate yet
FAULT_SILENCE_S = 3.0           # no reading at all for this long: the sensor is at fault


class ThermalMonitor(Worker):
    name = "thermal"

    def __init__(self, sensor: ThermalSensor, *, clock, offset_c: float = 0.0) -> None:
        super().__init__()
        self.sensor = sensor
        self.clock = clock
        self.offset_c = offset_c
        self._readings: deque[ThermalReading] = deque(maxlen=64)
        self._last_any: float | None = None
        self._started = clock.monotonic()
        self._changed = threading.Condition()

    def _run(self) -> None:
        while not self._stop.is_set():
            reading = self.sensor.read(timeout=0.2)
            if reading is not None:
                self.add(reading)

    def add(self, reading: ThermalReading) -> None:
        with self._changed:
            self._last_any = reading.t_mono
            self._readings.append(reading)
            self._changed.notify_all()

    def measurement(self) -> Measurement:
        """The screening estimate now, from the readings of the last window."""
        with self._changed:
            return self._measure(self.clock.monotonic())

    def _measure(self, now: float) -> Measurement:
        recent = [r for r in self._readings if now - r.t_mono <= WINDOW_S]
        skin = [r.object_c + self.offset_c for r in recent
                if SKIN_RANGE_C[0] <= r.object_c + self.offset_c <= SKIN_RANGE_C[1]]
        if len(skin) >= MIN_READINGS:
            age = now - max(r.t_mono for r in recent)
            return Measurement("ok", round(statistics.median(skin), 2), round(age, 3))
        last = self._last_any if self._last_any is not None else self._started
        if now - last > FAULT_SILENCE_S or getattr(self.sensor, "fault", False):
            return Measurement("sensor_fault")
        return Measurement("missing")

    def wait_measurement(self, timeout: float) -> Measurement:
        """The estimate, waiting up to `timeout` seconds for one to become ready."""
        deadline = self.clock.monotonic() + timeout
        with self._changed:
            while True:
                result = self._measure(self.clock.monotonic())
                remaining = deadline - self.clock.monotonic()
                if result.state != "missing" or remaining <= 0:
                    return result
                if not self._changed.wait(remaining):
                    return self._measure(self.clock.monotonic())
