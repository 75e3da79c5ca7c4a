"""The newest-frame buffer between a capture thread and the scanner (Frigate-style), and
the supervised capture thread that fills it.

The producer never waits for the consumer: each new frame replaces the previous one, and
a frame replaced before anyone read it is counted as dropped. A slow decoder therefore
always works on the newest frame instead of falling further behind a queue.

Every camera takes the same mode options in its URL (width, height, fps, exposure;
`MODE_OPTIONS`). A camera applies what was asked, reads back what it got, and when the two
differ says so once in a log event and in `describe()`, instead of quietly running
another mode.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from drivers.base import OK, STARTING, Camera, Frame, fault
from drivers.urls import Option, whole
from runtime import logs
from runtime.worker import Backoff, Worker

FAULT_HOLD_S = 10.0     # a failure keeps the camera's health a fault for this long
READ_FAULT = fault("read failing; reopening")
MAX_SIDE, MAX_FPS, MAX_EXPOSURE_US = 8192, 1000.0, 10_000_000
FPS_TOLERANCE = 0.01    # a camera reporting 29.97 for 30 fps runs the mode that was asked


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_FPS:     # also refuses nan and inf
        raise ValueError(f"allowed: a number above 0, at most {MAX_FPS:g}")
    return value


def _exposure(text: str) -> str | int:
    """`auto`, or a manual exposure time in whole microseconds."""
    if text == "auto":
        return text
    if not (text.isdigit() and 1 <= int(text) <= MAX_EXPOSURE_US):
        raise ValueError(f"allowed: auto, or microseconds from 1 to {MAX_EXPOSURE_US}")
    return int(text)


FPS_OPTION = Option(_fps)
MODE_OPTIONS = {"width": Option(whole(16, MAX_SIDE)), "height": Option(whole(16, MAX_SIDE)),
                "fps": FPS_OPTION, "exposure": Option(_exposure)}


@dataclass(frozen=True)
class CaptureMode:
    """A camera mode as a URL asked for it (None: the camera's own choice) or as the camera
    reports it after opening (None: it cannot say)."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    exposure: str | int | None = None   # "auto" or microseconds
    pixel_format: str | None = None     # a V4L2 FOURCC (MJPG, YUYV)

    @classmethod
    def from_options(cls, options: dict) -> CaptureMode:
        return cls(options.get("width"), options.get("height"), options.get("fps"),
                   options.get("exposure"), options.get("format"))

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width and self.height else None

    def text(self) -> str:
        """`1280x720 @ 30 fps, exposure 2000 us`; the parts that are known."""
        size = f"{self.width or '?'}x{self.height or '?'}" if self.width or self.height else ""
        size = " ".join(p for p in (size, self.pixel_format) if p)
        parts = [" @ ".join(p for p in (size, self.fps and f"{self.fps:g} fps") if p)]
        if self.exposure is not None:
            unit = "" if self.exposure == "auto" else " us"
            parts.append(f"exposure {self.exposure}{unit}")
        return ", ".join(p for p in parts if p)


ANY_MODE = CaptureMode()    # nothing asked: the camera's own mode


def mode_differences(asked: CaptureMode, got: CaptureMode) -> list[str]:
    """Each thing the camera gave other than asked, as `width 1920 -> 1280`."""
    differ = []
    for name in ("width", "height", "pixel_format", "exposure"):
        want, have = getattr(asked, name), getattr(got, name)
        if want is not None and have != want:
            label = "format" if name == "pixel_format" else name
            differ.append(f"{label} {want} -> {have if have is not None else 'unknown'}")
    if asked.fps is not None and not (got.fps and abs(got.fps - asked.fps) <= FPS_TOLERANCE
                                      * asked.fps):
        differ.append(f"fps {asked.fps:g} -> {f'{got.fps:g}' if got.fps else 'unknown'}")
    return differ


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
        self.asked = CaptureMode()
        self.mode = CaptureMode()     # what the camera said it runs, after opening
        self.mode_note = ""           # "" or what differs from what the URL asked

    def _settle_mode(self, asked: CaptureMode, got: CaptureMode, name: str) -> None:
        """Keep what was asked and what the camera gave; say once when they differ (again
        after a reopen only if the difference changed)."""
        note = "; ".join(mode_differences(asked, got))
        if note and note != self.mode_note:
            logs.event("camera_mode_differs", logging.WARNING, camera=name,
                       asked=asked.text(), got=got.text(), differs=note)
        self.asked, self.mode, self.mode_note = asked, got, note

    def mode_text(self) -> str:
        """For describe(): the mode running, and what was asked when it differs."""
        text = self.mode.text()
        if self.mode_note:
            text += f" (asked {self.asked.text()}: {self.mode_note})"
        return text

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
