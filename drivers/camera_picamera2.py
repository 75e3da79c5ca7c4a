"""The Raspberry Pi camera (CSI ribbon) through libcamera's picamera2 library.

    picamera2://                           the first camera
    picamera2://1?width=1280&height=720&fps=30&exposure=auto

The library comes from Raspberry Pi OS's packages (python3-picamera2, with the libcamera
bindings it needs; pip cannot supply those), so the service's virtualenv is made with
--system-site-packages. It is imported only when this scheme is opened; without it the
camera fails with one line saying what to install.

The capture thread takes each completed request (capture_request) into a `LatestFrame`, as
the OpenCV camera does (drivers/frames.py). The first frame after opening tells what the
camera runs (the frame's size, the FrameDuration in its metadata), which is compared with
what the URL asked. The main stream is "RGB888", which picamera2 lays out as B, G, R bytes:
the order OpenCV and the decoder read.

Untested here: no Pi camera on the development machines; the URL checks and the missing
library error are.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from drivers.base import DriverError
from drivers.frames import ANY_MODE, MAX_SIDE, MODE_OPTIONS, CaptureCamera, CaptureMode
from drivers.urls import DriverUrl, Option
from runtime import logs

STREAM_FORMAT = "RGB888"        # numpy (height, width, 3) in B, G, R order
EXPOSURE_TOLERANCE = 0.02       # the sensor rounds an exposure to whole lines
INSTALL_HINT = ("on Raspberry Pi OS: sudo apt install python3-picamera2, and a virtualenv "
                "made with --system-site-packages (scripts/install-pi.sh does both)")


def _even_side(text: str) -> int:
    """libcamera refuses odd widths and heights."""
    if not (text.isdigit() and 16 <= int(text) <= MAX_SIDE and int(text) % 2 == 0):
        raise ValueError(f"allowed: an even whole number from 16 to {MAX_SIDE}")
    return int(text)


URL_OPTIONS = {"picamera2": {"width": Option(_even_side), "height": Option(_even_side),
                             "fps": MODE_OPTIONS["fps"], "exposure": MODE_OPTIONS["exposure"]}}


def load_library() -> Any:
    """The Picamera2 class; DriverError in one line when the library cannot be imported."""
    # libcamera logs INFO lines of its own to stderr; the journal should get ours only
    os.environ.setdefault("LIBCAMERA_LOG_LEVELS", "*:ERROR")
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise DriverError(f"picamera2 camera: the picamera2 library is not installed; "
                          f"{INSTALL_HINT}") from None
    except Exception as exc:    # libcamera present but broken: say what, not a traceback
        raise DriverError(f"picamera2 camera: the picamera2 library does not load "
                          f"({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None
    return Picamera2


def camera_number(target: str) -> int:
    if target == "":
        return 0
    if not target.isdigit():
        raise DriverError(f"camera url picamera2://{target}: the target is a camera number "
                          "(0 for the first), e.g. picamera2://0")
    return int(target)


def controls_for(mode: CaptureMode) -> dict[str, Any]:
    """libcamera controls for a mode: a fixed frame duration for the rate, and the
    exposure (AeEnable off with ExposureTime in microseconds, or on)."""
    controls: dict[str, Any] = {}
    if mode.fps is not None:
        duration_us = round(1_000_000 / mode.fps)
        controls["FrameDurationLimits"] = (duration_us, duration_us)
    if mode.exposure == "auto":
        controls["AeEnable"] = True
    elif mode.exposure is not None:
        controls.update(AeEnable=False, ExposureTime=int(mode.exposure))
    return controls


def mode_of(shape: tuple, metadata: dict, asked: CaptureMode) -> CaptureMode:
    """What the camera runs, from a frame's shape and its request's metadata."""
    duration = metadata.get("FrameDuration")
    fps = round(1_000_000 / duration, 3) if duration else None
    exposure = asked.exposure
    if isinstance(asked.exposure, int):
        now = metadata.get("ExposureTime")
        close = now is not None and abs(now - asked.exposure) <= EXPOSURE_TOLERANCE * \
            asked.exposure
        exposure = asked.exposure if close else now
    return CaptureMode(int(shape[1]), int(shape[0]), fps, exposure)


class Picamera2Camera(CaptureCamera):
    thread_name = "picamera2"

    def __init__(self, number: int = 0, *, clock, mode: CaptureMode = ANY_MODE) -> None:
        self._library = load_library()      # before any thread: a missing one is one line
        super().__init__(clock)
        self.number = number
        self._asked = mode
        self._camera = self._open()
        self._start_capture()

    def describe(self) -> str:
        mode = self.mode_text()
        return f"picamera2 camera {self.number}" + (f" {mode}" if mode else "")

    def _open(self):
        try:
            camera = self._library(self.number)
        except IndexError:
            raise DriverError(f"picamera2 camera {self.number}: no such camera "
                              "(see checkpoint provision's camera list)") from None
        except Exception as exc:
            raise DriverError(f"picamera2 camera {self.number}: cannot open it "
                              f"({type(exc).__name__}: {exc})") from None
        main = {"format": STREAM_FORMAT}
        if self._asked.width and self._asked.height:
            main["size"] = (self._asked.width, self._asked.height)
        try:
            camera.configure(camera.create_video_configuration(
                main=main, controls=controls_for(self._asked)))
            camera.start()
        except Exception as exc:
            camera.close()
            raise DriverError(f"picamera2 camera {self.number}: cannot start it "
                              f"({type(exc).__name__}: {exc})") from None
        self._settled = False     # the first frame tells the mode
        return camera

    def _read(self) -> tuple[Any, float]:
        request = self._camera.capture_request()
        try:
            image = request.make_array("main")
            metadata = request.get_metadata() if not self._settled else {}
        finally:
            request.release()
        t_mono = self.clock.monotonic()
        if not self._settled:
            self._settled = True
            self._settle_mode(self._asked, mode_of(image.shape, metadata, self._asked),
                              f"picamera2 {self.number}")
        return image, t_mono

    def _reopen(self) -> None:
        self._release()
        self._camera = self._open()

    def _release(self) -> None:
        try:
            self._camera.close()    # stops the camera first
        except Exception as exc:    # a camera gone from the bus; nothing more to free
            logs.event("camera_close_failed", logging.WARNING, camera=self.describe(),
                       error=repr(exc))


def from_url(spec: DriverUrl, *, clock, **_) -> Picamera2Camera:
    return Picamera2Camera(camera_number(spec.target), clock=clock,
                           mode=CaptureMode.from_options(spec.options))
