"""The unread taps of a reader driver: its thread puts, the agent's reader gets."""

from __future__ import annotations

import threading
import time
from collections import deque

from drivers.base import CardTap


class TapQueue:
    """A bounded queue of taps: when full, the oldest unread tap goes (counted), since the
    newest is the one a person at the gate is waiting on."""

    def __init__(self, size: int) -> None:
        self._taps: deque[CardTap] = deque(maxlen=size)
        self._arrived = threading.Condition()
        self.taps = 0           # taps put, ever
        self.dropped = 0        # taps pushed out unread

    def put(self, tap: CardTap) -> None:
        with self._arrived:
            if len(self._taps) == self._taps.maxlen:
                self.dropped += 1
            self._taps.append(tap)
            self.taps += 1
            self._arrived.notify_all()

    def get(self, timeout: float) -> CardTap | None:
        """The oldest unread tap, waiting up to `timeout` seconds; None when none came."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not self._taps:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._arrived.wait(remaining)
            return self._taps.popleft()

    def wake(self) -> None:
        """Let a waiting get() look again (the driver is closing)."""
        with self._arrived:
            self._arrived.notify_all()
