"""The newest-frame buffer between a capture thread and the scanner (Frigate-style).

The producer never waits for the consumer: each new frame replaces the previous one, and
a frame replaced before anyone read it is counted as dropped. A slow decoder therefore
always works on the newest frame instead of falling further behind a queue.
"""

from __future__ import annotations

import threading
from typing import Any

from drivers.base import Frame


class LatestFrame:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._frame: Frame | None = None
        self._unread = False
        self._captured = 0
        self._dropped = 0
        self._closed = False

    def put(self, image: Any, t_mono: float) -> Frame:
        """Publish a captured image as the newest frame; returns it with its index."""
        with self._changed:
            self._captured += 1
            if self._unread:
                self._dropped += 1
            self._frame = Frame(image, self._captured, t_mono)
            self._unread = True
            self._changed.notify_all()
            return self._frame

    def latest(self, after: int, timeout: float) -> Frame | None:
        """The newest frame with index > `after`, waiting up to `timeout` seconds for one.

        Returns None on timeout, or at once when the source is closed and has nothing newer.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._newer_than(after), timeout)
            if not self._newer_than(after):
                return None
            self._unread = False
            return self._frame

    def close(self) -> None:
        """No more frames will come: wake every waiter."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def dropped(self) -> int:
        with self._changed:
            return self._dropped

    @property
    def captured(self) -> int:
        with self._changed:
            return self._captured

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    def _newer_than(self, after: int) -> bool:
        return self._frame is not None and self._frame.index > after
