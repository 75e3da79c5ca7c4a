"""The newest-frame buffer between a capture thread and the scanner (Frigate-style), and
the supervised capture thread that fills it.

The producer never waits for the consumer: each new frame replaces the previous one, and
a frame replaced before anyone read it is counted as dropped. A slow decoder therefore
always works on the newest frame instead of falling further behind a queue.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from drivers.base import OK, STARTING, Camera, Frame, fault
from runtime import logs
from runtime.worker import Backoff, Worker

FAULT_HOLD_S = 10.0     # a failure keeps the camera's health a fault for this long
READ_FAULT = fault("read failing; reopening")


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
    """A camera whose supervised capture thread feeds a LatestFrame.

    Subclasses write `_read()` (one image and its monotonic capture time; None when a
    source has ended, as a file does; an exception when the read failed) and may write
    `_reopen()`, `_wait_next()` and `_release()`. A failed read is a fault, not an end:
    the source is reopened with a backoff (0.5 s doubling to 30 s), the health says so,
    and capture goes on; the health stays a fault until FAULT_HOLD_S pass without a
    failure, so a source that fails every other read does not flap between ok and fault.
    """

    thread_name = "camera"

    def __init__(self, clock) -> None:
        self.clock = clock
        self.read_failures = 0
        self.reopens = 0
        self._buffer = LatestFrame()
        self._state = STARTING
        self._failed_at: float | None = None    # monotonic time of the last failure
        self._backoff = Backoff(first=0.5, limit=30.0)
        self._worker = Worker(self.thread_name, self._capture_one)

    def _start_capture(self) -> None:
        self._worker.start()

    def _read(self) -> tuple[Any, float] | None:
        raise NotImplementedError

    def _reopen(self) -> None:
        """Open the source again after a failed read (nothing to do for most sources)."""

    def _wait_next(self) -> None:
        """Pace the capture; a live device paces itself by blocking in `_read()`."""

    def _release(self) -> None:
        pass

    def _capture_one(self) -> None:
        try:
            captured = self._read()
        except Exception as exc:
            self._read_failed(exc)
            return
        if captured is None:
            self._state = fault("source ended")
            self._buffer.close()
            self._worker.stopping.set()
            return
        self._buffer.put(*captured)
        self._backoff.reset()
        self._state = OK
        self._wait_next()

    def _read_failed(self, exc: Exception) -> None:
        self.read_failures += 1
        self._failed_at = time.monotonic()
        pause = self._backoff.next()
        self._state = READ_FAULT
        if logs.worth_logging(self.read_failures):
            logs.event("camera_read_failed", logging.WARNING, camera=self.describe(),
                       error=repr(exc), failures=self.read_failures, reopen_in_s=pause)
        if self._worker.stopping.wait(pause):
            return
        try:
            self._reopen()
        except Exception as reopen_exc:     # the next read fails again and backs off more
            logs.event("camera_reopen_failed", logging.WARNING, camera=self.describe(),
                       error=repr(reopen_exc))
            return
        self.reopens += 1

    @property
    def health(self) -> str:
        recent = self._failed_at is not None and time.monotonic() - self._failed_at < FAULT_HOLD_S
        return READ_FAULT if recent and self._state == OK else self._state

    @property
    def workers(self) -> tuple:
        return (self._worker,)

    def counters(self) -> dict[str, int]:
        return {"frames_captured": self._buffer.captured, "frames_dropped": self.dropped,
                "camera_read_failures": self.read_failures, "camera_reopens": self.reopens}

    def latest(self, after: int, timeout: float) -> Frame | None:
        return self._buffer.latest(after, timeout)

    @property
    def dropped(self) -> int:
        return self._buffer.dropped

    @property
    def ended(self) -> bool:
        return self._buffer.closed

    def close(self) -> None:
        self._worker.stop()
        self._release()
        self._buffer.close()
