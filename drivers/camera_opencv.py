"""Cameras OpenCV can open: a V4L2 device, a video file, or a folder of images.

    OpenCvCamera("/dev/video0")            a V4L2 device (or an index such as "0")
    OpenCvCamera("/clips/gate.mp4")        a video, played at its own frame rate
    OpenCvCamera("/clips/frames/")         the folder's images in name order, at 15 fps

A device takes the mode options (`v4l2:///dev/video0?width=1280&height=720&fps=30&
exposure=auto&format=MJPG`), set through OpenCV's V4L2 backend before the first frame and
read back after: the driver picks the nearest mode it has, and a difference is reported
(drivers/frames.py). A manual exposure is given in microseconds; V4L2's absolute exposure
control counts 100 us steps, so it is rounded to those. A file or folder takes `fps` to
play at another rate than its own.

A capture thread reads frames as the source delivers them into a `LatestFrame`, so the
scanner always gets the newest one. A file source ends (latest() returns None at once)
unless `loop` is set. A device that gives no frame is failing, not ended: it is
released and opened again with backoff (see drivers/frames.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.base import DriverError
from drivers.frames import ANY_MODE, FPS_OPTION, MODE_OPTIONS, CaptureCamera, CaptureMode
from drivers.urls import DriverUrl, Option, flag

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FOLDER_FPS = 15.0
V4L2_EXPOSURE_MANUAL, V4L2_EXPOSURE_APERTURE_PRIORITY = 1, 3   # V4L2_CID_EXPOSURE_AUTO menu
EXPOSURE_STEP_US = 100                                         # V4L2_CID_EXPOSURE_ABSOLUTE unit


def _fourcc(text: str) -> str:
    if not (len(text) == 4 and text.isascii() and text.isalnum()):
        raise ValueError("allowed: a four-letter pixel format such as MJPG or YUYV")
    return text.upper()


URL_OPTIONS = {"v4l2": {**MODE_OPTIONS, "format": Option(_fourcc)},
               "file": {"loop": Option(flag, False), "fps": FPS_OPTION}}


def read_image(path: Path) -> Any | None:
    """An image file as BGR (transparency flattened onto white), or None if unreadable."""
    import cv2
    import numpy as np

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return None
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1.0, float(image.max())))
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        white = np.full_like(image[:, :, :3], 255)
        image = (image[:, :, :3] * alpha + white * (1.0 - alpha)).astype(np.uint8)
    return image


class OpenCvCamera(CaptureCamera):
    def __init__(self, source: str | int, *, clock, loop: bool = False,
                 mode: CaptureMode = ANY_MODE) -> None:
        """`mode`: for a device, what to ask it for; for a file or folder, only its fps
        (the rate to play at)."""
        super().__init__(clock)
        self.loop = loop
        self._target = source
        self._asked = mode
        self._source = self._open()
        self._delivered = False     # since the last rewind: a source with no good frame stops
        self._start_capture()

    def describe(self) -> str:
        mode = self.mode_text()
        return f"opencv {self._source.name}" + (f" {mode}" if mode else "")

    def _open(self):
        source = _open_source(self._target, self._asked)
        self._settle_mode(self._asked if source.live else CaptureMode(fps=self._asked.fps),
                          source.mode, source.name)
        return source

    def _read(self) -> tuple[Any, float] | None:
        image = self._source.read()
        if image is None and self._source.live:
            raise DriverError(f"camera {self._source.name}: no frame")
        if image is None and self.loop and self._delivered and self._source.rewind():
            self._delivered = False
            image = self._source.read()
        if image is None:
            return None
        self._delivered = True
        return image, self.clock.monotonic()

    def _reopen(self) -> None:
        self._source.release()
        self._source = self._open()

    def _wait_next(self) -> None:
        if self._source.interval:
            self._worker.stopping.wait(self._source.interval)

    def _release(self) -> None:
        self._source.release()


def _open_source(source: str | int, mode: CaptureMode):
    if isinstance(source, int) or source.isdigit():
        return _VideoSource(int(source), f"device {source}", mode)
    path = Path(source)
    if not path.exists():
        what = "device" if source.startswith("/dev/") else "file or folder"
        raise DriverError(f"camera {source}: no such {what}")
    if path.is_dir():
        return _FolderSource(path, mode.fps)
    if source.startswith("/dev/"):
        return _VideoSource(source, f"device {source}", mode)
    return _VideoSource(source, f"file {source}", CaptureMode(fps=mode.fps), live=False)


class _VideoSource:
    """cv2.VideoCapture: a live device (keeps no backlog, paces itself) or a video file
    (played at its own frame rate, or the one asked)."""

    def __init__(self, target: str | int, name: str, mode: CaptureMode,
                 live: bool = True) -> None:
        import cv2

        self.name = name
        self.live = live
        # V4L2 by name for a device, so the properties below mean V4L2 controls
        self._capture = cv2.VideoCapture(target, cv2.CAP_V4L2) if live else \
            cv2.VideoCapture(target)
        if not self._capture.isOpened():
            raise DriverError(f"camera {name}: OpenCV cannot open it")
        self.interval = 0.0
        if live:
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            self.mode = _apply_mode(self._capture, mode)
        else:
            own = self._capture.get(cv2.CAP_PROP_FPS)
            fps = mode.fps or (own if 0 < own < 1000 else FOLDER_FPS)
            self.interval = 1.0 / fps
            self.mode = CaptureMode(int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or None,
                                    int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None,
                                    fps)

    def read(self) -> Any | None:
        ok, image = self._capture.read()
        return image if ok else None

    def rewind(self) -> bool:
        import cv2

        return self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def release(self) -> None:
        self._capture.release()


def _apply_mode(capture, mode: CaptureMode) -> CaptureMode:
    """Ask an opened V4L2 device for a mode (format first: it bounds the sizes and rates
    the driver offers), then read back what the driver chose."""
    import cv2

    if mode.pixel_format:
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*mode.pixel_format))
    for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, mode.width),
                        (cv2.CAP_PROP_FRAME_HEIGHT, mode.height), (cv2.CAP_PROP_FPS, mode.fps)):
        if value is not None:
            capture.set(prop, value)
    if mode.exposure == "auto":
        capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_APERTURE_PRIORITY)
    elif mode.exposure is not None:
        capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_MANUAL)
        capture.set(cv2.CAP_PROP_EXPOSURE, max(1, round(mode.exposure / EXPOSURE_STEP_US)))
    return CaptureMode(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or None,
                       int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None,
                       round(capture.get(cv2.CAP_PROP_FPS), 3) or None,
                       _exposure_now(capture, mode.exposure), _fourcc_now(capture))


def _fourcc_now(capture) -> str | None:
    import cv2

    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24)).strip("\0 ")
    return text if text.isascii() and text.isprintable() and text else None


def _exposure_now(capture, asked: str | int | None) -> str | int | None:
    """The exposure the device runs, in the URL's terms; None when none was asked (the
    device keeps its own setting, nothing to compare)."""
    import cv2

    if asked is None:
        return None
    if capture.get(cv2.CAP_PROP_AUTO_EXPOSURE) != V4L2_EXPOSURE_MANUAL:
        return "auto"
    steps = capture.get(cv2.CAP_PROP_EXPOSURE)
    exposure_us = round(steps * EXPOSURE_STEP_US)
    # a rounding to the device's 100 us steps is what was asked, not a difference
    return asked if isinstance(asked, int) and abs(exposure_us - asked) < EXPOSURE_STEP_US \
        else exposure_us


class _FolderSource:
    live = False

    def __init__(self, folder: Path, fps: float | None = None) -> None:
        self.name = f"folder {folder}"
        self.interval = 1.0 / (fps or FOLDER_FPS)
        self.mode = CaptureMode(fps=fps or FOLDER_FPS)
        self._paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise DriverError(f"camera folder {folder}: no images "
                              f"({', '.join(IMAGE_SUFFIXES)})")
        self._next = 0

    def read(self) -> Any | None:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            image = read_image(path)
            if image is not None:
                return image
        return None

    def rewind(self) -> bool:
        self._next = 0
        return True

    def release(self) -> None:
        pass


def from_url(spec: DriverUrl, *, base_dir: Path, clock, **_) -> OpenCvCamera:
    mode = CaptureMode.from_options(spec.options)
    if spec.scheme == "v4l2":
        return OpenCvCamera(spec.target, clock=clock, mode=mode)
    return OpenCvCamera(str(spec.path(base_dir)), clock=clock, loop=spec.options["loop"],
                        mode=mode)
