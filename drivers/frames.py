"""The newest-frame buffer between a capture thread and the scanner (Frigate-style).

The producer never waits for the consumer: each new frame replaces the previous one, and
a frame replaced before anyone read it is counted as dropped. A slow decoder therefore
always works on the newest frame instead of falling further behind a queue.
"""

from __future__ import annotations

import threading
from typing import Any

from drivers.base import Camera, Frame


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


class CaptureCamera(Camera):
    """A camera whose capture thread feeds a LatestFrame; subclasses write `_capture()`.

    `_capture` runs until `_stop` is set, putting frames into `_buffer`; `close()` stops it
    and then calls `_release()` for whatever the source holds.
    """

    thread_name = "camera"

    def __init__(self) -> None:
        self._buffer = LatestFrame()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, name=self.thread_name,
                                        daemon=True)

    def _start_capture(self) -> None:
        self._thread.start()

    def _capture(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        pass

    def latest(self, after: int, timeout: float) -> Frame | None:
        return self._buffer.latest(after, timeout)

    @property
    def dropped(self) -> int:
        return self._buffer.dropped

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._release()
        self._buffer.close()
