"""From a stream of sensor readings to one screening estimate, or an honest "not now".

A screening estimate is not a clinical temperature: it is the median of a window of
forehead readings (1 s by default), corrected by the unit's calibration offset and an
optional ambient term, accepted only when the window is steady. Close to the fever
threshold (within the policy's re-measure band) one window decides nothing: the window
before it must agree, and the estimate is the median of both. A presence judged febrile
stays febrile until it reads clearly below the threshold (hysteresis), so stepping back
and forth does not turn a fever into a pass. Pure: time comes in as `now`.

States: `ok` (an estimate), `retry` (nothing steady and fresh yet: someone moving, too
few readings, or the data went stale), `out_of_range` (steady, but not a forehead at
screening distance: the background, a hot drink), `warming_up` (the sensor just started
or its die temperature is drifting), `sensor_fault` (silent or reported broken).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, replace

from drivers.base import ThermalReading
from edge.policy import Measurement

STATES = ("ok", "retry", "out_of_range", "warming_up", "sensor_fault")


@dataclass(frozen=True)
class ScreeningSettings:
    window_s: float = 1.0
    min_readings: int = 6
    min_span_s: float = 0.7         # a window is time, not a count: its readings must span this
    max_spread_c: float = 0.3       # p90 - p10 of a window; more means someone is moving
    max_disagreement_c: float = 0.3  # between the two windows of a re-measure
    skin_range_c: tuple[float, float] = (34.0, 42.5)
    hysteresis_c: float = 0.2
    stale_after_s: float = 0.4      # newest reading older than this does not describe now
    fault_after_s: float = 2.0      # silence this long (a resent mode command included)
    warmup_s: float = 1.0           # readings right after (re)start are not trusted
    max_ambient_drift_c: float = 0.5
    offset_c: float = 0.0           # per-unit calibration (`checkpoint calibrate`)
    ambient_coeff: float = 0.0      # degC added per degC the ambient is below ambient_ref_c
    ambient_ref_c: float = 25.0


    def for_frame_period(self, period_s: float) -> ScreeningSettings:
        """The same settings fitted to a sensor streaming one frame every `period_s`: a
        GY-MCU90614 (12/s) keeps the defaults, a 4 Hz array needs fewer readings and a
        later stale mark. Below 2 Hz no window holds three frames: never an estimate."""
        window = min(2.0, max(self.window_s, 4 * period_s))
        return replace(self, window_s=window,
                       min_readings=max(3, min(self.min_readings, int(0.6 * window / period_s))),
                       min_span_s=min(self.min_span_s, window - 1.5 * period_s),
                       stale_after_s=max(self.stale_after_s, 3 * period_s))


@dataclass(frozen=True)
class Sample:
    t: float
    celsius: float                  # corrected
    ambient_c: float | None


@dataclass(frozen=True)
class Window:
    samples: tuple[Sample, ...]

    @property
    def values(self) -> list[float]:
        return [s.celsius for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        ordered = sorted(self.values)
        low, high = ordered[len(ordered) // 10], ordered[-1 - len(ordered) // 10]
        return high - low


class Screening:
    def __init__(self, settings: ScreeningSettings | None = None, *, started: float) -> None:
        self.settings = settings or ScreeningSettings()
        self._samples: deque[Sample] = deque(maxlen=256)
        self._started = started
        self._since: float | None = None   # first reading after the last (re)start
        self._febrile = False               # this presence was judged febrile

    def corrected(self, reading: ThermalReading) -> float:
        s = self.settings
        value = reading.object_c + s.offset_c
        if s.ambient_coeff and reading.ambient_c is not None:
            value += s.ambient_coeff * (s.ambient_ref_c - reading.ambient_c)
        return value

    def add(self, reading: ThermalReading) -> None:
        last = self._samples[-1].t if self._samples else None
        if last is None or reading.t_mono - last > self.settings.fault_after_s:
            self._since = reading.t_mono
        sample = Sample(reading.t_mono, self.corrected(reading), reading.ambient_c)
        if sample.celsius < self.settings.skin_range_c[0]:
            self._febrile = False       # the forehead left the field of view
        self._samples.append(sample)

    def assess(self, now: float, threshold_c: float, band_c: float, *,
               sensor_fault: bool = False) -> Measurement:
        """The estimate at `now` against the policy's fever threshold and re-measure band."""
        s = self.settings
        newest = self._samples[-1] if self._samples else None
        silent = now - (newest.t if newest else self._started)
        if sensor_fault or silent > s.fault_after_s:
            return self._forget("sensor_fault")
        if newest is None or silent > s.stale_after_s:
            return self._forget("retry")
        if newest.t - self._since < s.warmup_s:
            return Measurement("warming_up")
        latest = self._window(newest.t)
        if self._ambient_drift(latest) > s.max_ambient_drift_c:
            return Measurement("warming_up")
        state = self._judge(latest)
        if state != "ok":
            return self._forget(state) if state == "out_of_range" else Measurement(state)
        return self._estimate(latest, now - newest.t, threshold_c, band_c)

    def _estimate(self, latest: Window, age: float, threshold_c: float,
                  band_c: float) -> Measurement:
        windows = [latest]
        if abs(latest.median - threshold_c) <= band_c:
            previous = self._window(latest.samples[0].t - 1e-9)
            if self._judge(previous) != "ok":
                return Measurement("retry", remeasured=True)
            if abs(previous.median - latest.median) > self.settings.max_disagreement_c:
                return Measurement("retry", remeasured=True)
            windows.append(previous)
        estimate = statistics.median([v for w in windows for v in w.values])
        limit = threshold_c - (self.settings.hysteresis_c if self._febrile else 0.0)
        self._febrile = estimate >= limit
        return Measurement("ok", round(estimate, 2), round(age, 3),
                           remeasured=len(windows) == 2, fever=self._febrile)

    def _window(self, end: float) -> Window:
        start = end - self.settings.window_s
        return Window(tuple(x for x in self._samples if start < x.t <= end))

    def _judge(self, window: Window) -> str:
        s = self.settings
        samples = window.samples
        if len(samples) < s.min_readings or samples[-1].t - samples[0].t < s.min_span_s:
            return "retry"
        if window.spread > s.max_spread_c:
            return "retry"
        low, high = s.skin_range_c
        return "ok" if low <= window.median <= high else "out_of_range"

    @staticmethod
    def _ambient_drift(window: Window) -> float:
        ambient = [x.ambient_c for x in window.samples if x.ambient_c is not None]
        return max(ambient) - min(ambient) if ambient else 0.0

    def _forget(self, state: str) -> Measurement:
        """The person is gone (or unseen): a later presence starts without a fever verdict."""
        self._febrile = False
        return Measurement(state)
