"""The simulated gate: records when it opens and closes.

It needs no thread: it is open while the injected clock is inside the pulse, and it
writes the closing event with the time the pulse ended, so a test with a fake clock sees
exactly what happened and when.
"""

from __future__ import annotations

import threading

from drivers.base import Gate
from drivers.gate import DEFAULT_PULSE_S, check_pulse
from drivers.urls import DriverUrl, Option, number, whole

URL_OPTIONS = {"sim": {"pulse": Option(number(positive=True), DEFAULT_PULSE_S),
                       "fail_every": Option(whole(0), 0)}}


class SimGate(Gate):
    """`fail_every=N`: every Nth opening raises, as a relay with a broken contact would."""

    def __init__(self, *, clock, pulse: float = DEFAULT_PULSE_S, fail_every: int = 0) -> None:
        self.clock = clock
        self.pulse = check_pulse(pulse)
        self.fail_every = fail_every
        self._asked = 0
        self._lock = threading.Lock()
        self._events: list[tuple[float, str]] = []     # (wall time, "open" | "closed")
        self._open_until: float | None = None          # monotonic end of the current pulse

    def _open(self, pulse_s: float | None) -> None:
        pulse = check_pulse(self.pulse if pulse_s is None else pulse_s)
        self._asked += 1
        if self.fail_every and self._asked % self.fail_every == 0:
            raise OSError(f"simulated relay failure (opening {self._asked})")
        with self._lock:
            self._settle()
            if self._open_until is None:
                self._events.append((self.clock.now(), "open"))
            self._open_until = max(self._open_until or 0.0, self.clock.monotonic() + pulse)

    def _settle(self) -> None:
        """Record the close of a pulse that has ended, stamped when it ended."""
        now_mono = self.clock.monotonic()
        if self._open_until is not None and now_mono >= self._open_until:
            closed_at = self.clock.now() - (now_mono - self._open_until)
            self._events.append((closed_at, "closed"))
            self._open_until = None

    @property
    def state(self) -> str:
        with self._lock:
            self._settle()
            return "closed" if self._open_until is None else "open"

    @property
    def events(self) -> list[tuple[float, str]]:
        with self._lock:
            self._settle()
            return list(self._events)

    def describe(self) -> str:
        return f"simulated gate, pulse {self.pulse} s"


def from_url(spec: DriverUrl, *, clock, **_) -> SimGate:
    return SimGate(clock=clock, pulse=spec.options["pulse"],
                   fail_every=spec.options["fail_every"])
