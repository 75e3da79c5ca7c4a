"""Clocks: wall time for records and display, monotonic for durations; injected everywhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time

_TIME_ERROR = 5  # adjtimex() state when the kernel clock is not NTP-synchronised


@functools.cache
def _libc():
    """libc, found once: find_library runs ldconfig (milliseconds), and synced() is asked
    for every decision and every bundle judged."""
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        """True when the kernel reports the clock as synchronised (adjtimex, as chrony sets it)."""
        try:
            libc = _libc()
            timex = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes = 0, read only
            state = libc.adjtimex(timex)
        except (OSError, AttributeError):
            return False
        return 0 <= state != _TIME_ERROR

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
