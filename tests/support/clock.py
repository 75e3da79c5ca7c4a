"""A clock for tests: time moves only when told to."""

from __future__ import annotations

import threading


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
