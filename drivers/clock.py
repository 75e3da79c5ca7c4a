"""Clocks: wall time for records and display, monotonic for durations; injected everywhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

_TIME_ERROR = 5  # adjtimex() state when the kernel clock is not NTP-synchronised


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        """True when the kernel reports the clock as synchronised (adjtimex, as chrony sets it)."""
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            timex = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes = 0, read only
            state = libc.adjtimex(timex)
        except (OSError, AttributeError):
            return False
        return 0 <= state != _TIME_ERROR

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeClock:
    """A clock for tests: time moves only when told to."""

    def __init__(self, now: float = 1_790_000_000.0, synced: bool = True) -> None:
        self._now = now
        self._mono = 1000.0
        self._synced = synced
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def synced(self) -> bool:
        return self._synced

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
