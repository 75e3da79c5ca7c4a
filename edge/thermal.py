"""The thermal side of the agent: read the sensor continuously, screen on demand.

A reader thread hands every verified reading to the screening (edge/screening.py); the
controller asks for a measurement when a pass is scanned, with the policy's fever
threshold and re-measure band. Because readings flow while a person approaches, the
estimate is usually ready before the code is; the controller waits (bounded) only while
the screening says `retry`, `warming_up` or `out_of_range` (someone still stepping up).
Each answer is logged as one `event=screening` line, marked as a screening estimate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from drivers.base import ThermalReading, ThermalSensor
from edge.policy import Measurement
from edge.screening import Screening, ScreeningSettings
from models.policy import Policy
from runtime import logs
from runtime.worker import Worker

READ_WAIT_S = 0.2

_WAIT_WHILE = ("retry", "warming_up", "out_of_range")


class ThermalMonitor:
    def __init__(self, sensor: ThermalSensor, *, clock, offset_c: float = 0.0,
                 settings: ScreeningSettings | None = None) -> None:
        self.sensor = sensor
        self.clock = clock
        settings = replace(settings or ScreeningSettings(), offset_c=offset_c)
        period = getattr(sensor, "frame_period_s", None)
        if period:
            settings = settings.for_frame_period(period)
        self.screening = Screening(settings, started=clock.monotonic())
        self._changed = threading.Condition()
        self.worker = Worker("thermal", self.add, take=self._next_reading)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def _next_reading(self) -> ThermalReading | None:
        return self.sensor.read(timeout=READ_WAIT_S)

    def add(self, reading: ThermalReading) -> None:
        with self._changed:
            self.screening.add(reading)
            self._changed.notify_all()

    def _assess(self, policy: Policy) -> Measurement:
        fault = bool(getattr(self.sensor, "fault", False))
        return self.screening.assess(self.clock.monotonic(), policy.fever_threshold_c,
                                     policy.remeasure_band_c, sensor_fault=fault)

    def wait_measurement(self, timeout: float, policy: Policy | None = None) -> Measurement:
        """The estimate, waiting up to `timeout` seconds while it is not ready yet."""
        policy = policy or Policy()
        # Bounded on both clocks: the injected one may be a test's, frozen or jumping.
        deadline, real_deadline = self.clock.monotonic() + timeout, time.monotonic() + timeout
        with self._changed:
            result = self._assess(policy)
            while result.state in _WAIT_WHILE:
                remaining = min(deadline - self.clock.monotonic(),
                                real_deadline - time.monotonic())
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.25))
                result = self._assess(policy)
        logs.event("screening", state=result.state, temperature_c=result.temperature_c,
                   remeasured=result.remeasured, windows=_windows(result),
                   fever=result.fever, age_s=result.age_s, kind="screening_estimate")
        return result


def _windows(result: Measurement) -> int | None:
    """How many 1 s windows the estimate rests on (none without an estimate)."""
    if result.state != "ok":
        return None
    return 2 if result.remeasured else 1
