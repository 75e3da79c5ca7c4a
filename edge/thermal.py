"""The thermal side of the agent: read the sensor continuously, screen on demand.

A reader thread hands every verified reading to the screening (edge/screening.py); the
controller asks for a measurement when a pass is scanned, with the policy's fever
threshold and re-measure band. Because readings flow while a person approaches, the
estimate is usually ready before the code is; the controller waits (bounded) only while
the screening says `retry`, `unseparated`, `warming_up` or `out_of_range` (someone still
stepping up). Each scan is a presentation: the monitor remembers when it last answered
one and when that presenter was at the sensor, so the next presenter's estimate is made
only of readings newer than both (edge/screening.py `Presentation`).
Each answer is logged as one `event=screening` line, marked as a screening estimate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from drivers.base import ThermalReading, ThermalSensor
from edge.policy import Measurement
from edge.screening import Presentation, Screening, ScreeningSettings
from models.policy import Policy
from runtime import logs
from runtime.worker import Worker

READ_WAIT_S = 0.2

_WAIT_WHILE = ("retry", "unseparated", "warming_up", "out_of_range")


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
        self._answered: float | None = None     # when the last presentation was answered
        self._arrived_by: float | None = None   # its presenter was at the sensor by then
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

    def _assess(self, policy: Policy, presentation: Presentation | None) -> Measurement:
        fault = bool(getattr(self.sensor, "fault", False))
        return self.screening.assess(self.clock.monotonic(), policy.fever_threshold_c,
                                     policy.remeasure_band_c, sensor_fault=fault,
                                     presentation=presentation)

    def wait_measurement(self, timeout: float, policy: Policy | None = None, *,
                         shown_at: float | None = None) -> Measurement:
        """The estimate, waiting up to `timeout` seconds while it is not ready yet; with
        `shown_at` (when the code was read), the estimate of that presenter only."""
        policy = policy or Policy()
        # Bounded on both clocks: the injected one may be a test's, frozen or jumping. A
        # presentation's wait runs from when the code was read, so a scan that queued
        # behind a slow one does not wait again in full.
        now = self.clock.monotonic()
        start = now if shown_at is None else min(now, shown_at)
        deadline, real_deadline = start + timeout, time.monotonic() + (start + timeout - now)
        with self._changed:
            presentation = self._presentation(shown_at)
            result = self._assess(policy, presentation)
            while result.state in _WAIT_WHILE and not self._settled(result, presentation):
                remaining = min(deadline - self.clock.monotonic(),
                                real_deadline - time.monotonic())
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.25))
                result = self._assess(policy, presentation)
            if presentation is not None:
                self._answered = self.clock.monotonic()
                self._arrived_by = shown_at + self.screening.settings.join_s
        logs.event("screening", state=result.state, temperature_c=result.temperature_c,
                   remeasured=result.remeasured, windows=_windows(result),
                   fever=result.fever, age_s=result.age_s, kind="screening_estimate")
        return result

    def _settled(self, result: Measurement, presentation: Presentation | None) -> bool:
        """`unseparated` is final once the presenter's time to step up has passed: a
        change seen later begins the run of someone who came after the code."""
        if presentation is None or result.state != "unseparated":
            return False
        return self.clock.monotonic() > presentation.shown_at + self.screening.settings.join_s

    def _presentation(self, shown_at: float | None) -> Presentation | None:
        if shown_at is None:
            return None
        return Presentation(shown_at, not_before=self._answered, arrived_by=self._arrived_by)


def _windows(result: Measurement) -> int | None:
    """How many windows the estimate rests on (none without an estimate)."""
    if result.state != "ok":
        return None
    return 2 if result.remeasured else 1
