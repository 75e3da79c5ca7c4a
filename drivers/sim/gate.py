"""The simulated gate: records when it opens and closes.

It needs no thread: it is open while the injected clock is inside the pulse, and it
writes the closing event with the time the pulse ended, so a test with a fake clock sees
exactly what happened and when.
"""

from __future__ import annotations

import threading

from drivers.base import Gate
from drivers.gate import DEFAULT_PULSE_S, check_pulse


class SimGate(Gate):
    def __init__(self, *, clock, pulse: float = DEFAULT_PULSE_S) -> None:
        self.clock = clock
        self.pulse = check_pulse(pulse)
        self._lock = threading.Lock()
        self._events: list[tuple[float, str]] = []     # (wall time, "open" | "closed")
        self._open_until: float | None = None          # monotonic end of the current pulse

    def open(self, pulse_s: float | None = None) -> None:
        pulse = check_pulse(self.pulse if pulse_s is None else pulse_s)
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

    @property
    def openings(self) -> int:
        return sum(1 for _, state in self.events if state == "open")

    def describe(self) -> str:
        return f"simulated gate, pulse {self.pulse} s"
