"""From a stream of sensor readings to one screening estimate, or an honest "not now".

A screening estimate is not a clinical temperature: it is the median of a window of
forehead readings (up to 0.5 s), corrected by the unit's calibration offset and an
optional ambient term, accepted only when the window is steady.

The window is made only of the current person's readings: walking back from the newest
reading, the person's *run* ends where the sensor shows a change of person: a step in the
object temperature (a reading further than `max_step_c` from the run's median; a single
stray reading is skipped, not taken as a change), the background (a reading outside the
skin range), or, on an array sensor, the face region appearing or jumping. When the
estimate is for a presentation (a code someone showed, `Presentation`), it must also be
that presenter's run: made only of readings after the previous decision, begun after a
change the sensor showed since the previous presenter stepped up, and begun no later
than `join_s` after the code was read. Otherwise the state is `unseparated` (no such
change yet: the decision waits, then asks the guard) or `left` (the readings are of
someone who came after the code: the guard is asked at once). Never a guess.

Close to the fever threshold (within the policy's re-measure band) one window decides
nothing: the window before it, in the same run, must agree, and the estimate is the
median of both. A run judged febrile stays febrile until it reads clearly below the
threshold (hysteresis); a new run starts afresh. Pure: time comes in as `now`.

States: `ok` (an estimate), `retry` (nothing steady and fresh yet: someone moving, too
few readings, or the data went stale), `unseparated` (the sensor shows no change of
person that this presenter's readings could begin at), `left` (the presenter's readings
ended before an estimate; someone else is in front of the sensor), `out_of_range` (steady, but not a
forehead at screening distance: the background, a hot drink), `warming_up` (the sensor
just started or its die temperature is drifting), `sensor_fault` (silent or broken).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, replace

from drivers.base import ThermalReading
from edge.policy import Measurement

STATES = ("ok", "retry", "unseparated", "left", "out_of_range", "warming_up", "sensor_fault")
_REFERENCE_READINGS = 8     # a run's median, for the step test, is of its newest readings


@dataclass(frozen=True)
class ScreeningSettings:
    window_s: float = 0.5
    min_readings: int = 4
    min_span_s: float = 0.2         # a window is time, not a count: its readings must span this
    max_spread_c: float = 0.3       # p90 - p10 of a window; more means someone is moving
    max_disagreement_c: float = 0.3  # between the two windows of a re-measure
    max_step_c: float = 0.3         # further from the run's median: another person
    face_move_px: float = 3.0       # an array's face centroid jumping this far: another face
    join_s: float = 0.3             # a presenter is at the sensor this soon after the code
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
        GY-MCU90614 (12/s) keeps the defaults, a 4 Hz array needs a longer window, fewer
        readings and a later stale mark. Below 2 Hz no window holds three frames."""
        window = min(2.0, max(self.window_s, 4 * period_s))
        return replace(self, window_s=window,
                       min_readings=max(3, min(self.min_readings, int(0.8 * window / period_s))),
                       min_span_s=min(self.min_span_s, window - 1.5 * period_s),
                       stale_after_s=max(self.stale_after_s, 3 * period_s),
                       join_s=max(self.join_s, period_s))


@dataclass(frozen=True)
class Presentation:
    """Which readings may describe the person who showed a code."""

    shown_at: float                     # capture time of the frame the code was read in
    not_before: float | None = None     # the previous decision: only later readings count
    arrived_by: float | None = None     # the previous presenter was at the sensor by then


@dataclass(frozen=True)
class Sample:
    t: float
    celsius: float                  # corrected
    ambient_c: float | None
    face_at: tuple[float, float] | None = None


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


@dataclass(frozen=True)
class Run:
    """One person's readings, oldest first; `changed`: it begins at a change the sensor
    showed (not at the bound of the readings looked at)."""

    samples: tuple[Sample, ...]
    changed: bool

    @property
    def start(self) -> float:
        return self.samples[0].t

    def after(self, t: float | None) -> Run:
        """The same run, only its readings later than `t` (the previous decision)."""
        if t is None:
            return self
        return Run(tuple(x for x in self.samples if x.t > t), self.changed)


class Screening:
    def __init__(self, settings: ScreeningSettings | None = None, *, started: float) -> None:
        self.settings = settings or ScreeningSettings()
        self._samples: deque[Sample] = deque(maxlen=256)
        self._started = started
        self._since: float | None = None   # first reading after the last (re)start
        self._febrile_run: float | None = None  # start of the run judged febrile

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
        self._samples.append(Sample(reading.t_mono, self.corrected(reading), reading.ambient_c,
                                    reading.face_at))

    def assess(self, now: float, threshold_c: float, band_c: float, *,
               sensor_fault: bool = False,
               presentation: Presentation | None = None) -> Measurement:
        """The estimate at `now` against the policy's fever threshold and re-measure band;
        with a `presentation`, only from that presenter's readings."""
        s = self.settings
        newest = self._samples[-1] if self._samples else None
        silent = now - (newest.t if newest else self._started)
        if sensor_fault or silent > s.fault_after_s:
            return self._forget("sensor_fault")
        if newest is None or silent > s.stale_after_s:
            return self._forget("retry")
        if newest.t - self._since < s.warmup_s:
            return Measurement("warming_up")
        run = self.current_run()
        if presentation is not None:
            state = self._presenters(run, presentation)
            if state != "ok":
                return Measurement(state)
            run = run.after(presentation.not_before)
        latest = self._window(run, newest.t)
        if self._ambient_drift(latest) > s.max_ambient_drift_c:
            return Measurement("warming_up")
        state = self._judge(latest)
        if state != "ok":
            return self._forget(state) if state == "out_of_range" else Measurement(state)
        return self._estimate(run, latest, now - newest.t, threshold_c, band_c)

    def current_run(self) -> Run:
        """The newest person's readings: back from the newest reading to the last change
        of person the sensor showed (or to the oldest reading kept)."""
        kept: list[Sample] = []     # newest first
        reference: list[float] = []
        samples = self._samples
        stray_at = math.inf         # time of the last stray reading skipped
        index = len(samples) - 1
        while index >= 0:
            sample = samples[index]
            if kept and self._departs(sample, kept[-1], reference):
                if not self._stray(index, kept[-1], reference, stray_at):
                    return Run(tuple(reversed(kept)), changed=True)
                stray_at = sample.t
                index -= 1          # one stray reading between two of the same person
                continue
            kept.append(sample)
            if len(reference) < _REFERENCE_READINGS:
                reference.append(sample.celsius)
            index -= 1
        return Run(tuple(reversed(kept)), changed=False)

    def _stray(self, index: int, later: Sample, reference: list[float],
               stray_at: float) -> bool:
        """Whether the departing reading at `index` is a lone spike: the one before it
        agrees with the run again, and no other spike was skipped within a window (a
        person moving makes many; that is no steady run)."""
        if index == 0 or stray_at - self._samples[index].t < self.settings.window_s:
            return False
        earlier = self._samples[index - 1]
        return not self._departs(earlier, later, reference)

    def _departs(self, sample: Sample, later: Sample, reference: list[float]) -> bool:
        """Whether `sample` (older) shows someone else than the run `later` belongs to."""
        s = self.settings
        low, high = s.skin_range_c
        if (low <= sample.celsius <= high) != (low <= later.celsius <= high):
            return True
        if abs(sample.celsius - statistics.median(reference)) > s.max_step_c:
            return True
        if (sample.face_at is None) != (later.face_at is None):
            return True
        return sample.face_at is not None and \
            math.dist(sample.face_at, later.face_at) > s.face_move_px

    def _presenters(self, run: Run, presentation: Presentation) -> str:
        """"ok" when `run` can be the presenter's: it begins after the previous presenter
        stepped up, at a change the sensor showed, and soon enough after the code; "left"
        when it began too late (someone who came after the code); else "unseparated"."""
        if not run.samples:
            return "ok"         # nothing yet: the judge says retry
        if run.start > presentation.shown_at + self.settings.join_s:
            return "left"
        if presentation.arrived_by is None:
            return "ok"         # the first presentation since the start
        separated = run.changed and run.start > presentation.arrived_by
        return "ok" if separated else "unseparated"

    def _estimate(self, run: Run, latest: Window, age: float, threshold_c: float,
                  band_c: float) -> Measurement:
        windows = [latest]
        if abs(latest.median - threshold_c) <= band_c:
            previous = self._window(run, latest.samples[0].t - 1e-9)
            if self._judge(previous) != "ok":
                return Measurement("retry", remeasured=True)
            if abs(previous.median - latest.median) > self.settings.max_disagreement_c:
                return Measurement("retry", remeasured=True)
            windows.append(previous)
        estimate = statistics.median([v for w in windows for v in w.values])
        same_run = self._febrile_run == run.start
        limit = threshold_c - (self.settings.hysteresis_c if same_run else 0.0)
        fever = estimate >= limit
        self._febrile_run = run.start if fever else None
        return Measurement("ok", round(estimate, 2), round(age, 3),
                           remeasured=len(windows) == 2, fever=fever)

    def _window(self, run: Run, end: float) -> Window:
        start = end - self.settings.window_s
        return Window(tuple(x for x in run.samples if start < x.t <= end))

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
        self._febrile_run = None
        return Measurement(state)
