"""Cameras OpenCV can open: a V4L2 device, a video file, or a folder of images.

    OpenCvCamera("/dev/video0")            a V4L2 device (or an index such as "0")
    OpenCvCamera("/clips/gate.mp4")        a video, played at its own frame rate
    OpenCvCamera("/clips/frames/")         the folder's images in name order, at 15 fps

A capture thread reads frames as the source delivers them into a `LatestFrame`, so the
scanner always gets the newest one. A file source ends (latest() returns None at once)
unless `loop` is set. A device that gives no frame is failing, not ended: it is
released and opened again with backoff (see drivers/frames.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.base import DriverError
from drivers.frames import CaptureCamera
from drivers.urls import DriverUrl, Option, flag

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FOLDER_FPS = 15.0
URL_OPTIONS = {"v4l2": {}, "file": {"loop": Option(flag, False)}}


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
    def __init__(self, source: str | int, *, clock, loop: bool = False) -> None:
        super().__init__(clock)
        self.loop = loop
        self._target = source
        self._source = _open_source(source)
        self._delivered = False     # since the last rewind: a source with no good frame stops
        self._start_capture()

    def describe(self) -> str:
        return f"opencv {self._source.name}"

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
        self._source = _open_source(self._target)

    def _wait_next(self) -> None:
        if self._source.interval:
            self._worker.stopping.wait(self._source.interval)

    def _release(self) -> None:
        self._source.release()


def _open_source(source: str | int):
    if isinstance(source, int) or source.isdigit():
        return _VideoSource(int(source), f"device {source}", live=True)
    path = Path(source)
    if not path.exists():
        what = "device" if source.startswith("/dev/") else "file or folder"
        raise DriverError(f"camera {source}: no such {what}")
    if path.is_dir():
        return _FolderSource(path)
    if source.startswith("/dev/"):
        return _VideoSource(source, f"device {source}", live=True)
    return _VideoSource(source, f"file {source}", live=False)


class _VideoSource:
    """cv2.VideoCapture: a live device (keeps no backlog, paces itself) or a video file
    (played at its own frame rate)."""

    def __init__(self, target: str | int, name: str, live: bool) -> None:
        import cv2

        self.name = name
        self.live = live
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            raise DriverError(f"camera {name}: OpenCV cannot open it")
        self.interval = 0.0
        if live:
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        else:
            fps = self._capture.get(cv2.CAP_PROP_FPS)
            self.interval = 1.0 / fps if 0 < fps < 1000 else 1.0 / FOLDER_FPS

    def read(self) -> Any | None:
        ok, image = self._capture.read()
        return image if ok else None

    def rewind(self) -> bool:
        import cv2

        return self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def release(self) -> None:
        self._capture.release()


class _FolderSource:
    live = False

    def __init__(self, folder: Path) -> None:
        self.name = f"folder {folder}"
        self.interval = 1.0 / FOLDER_FPS
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
    if spec.scheme == "v4l2":
        return OpenCvCamera(spec.target, clock=clock)
    return OpenCvCamera(str(spec.path(base_dir)), clock=clock, loop=spec.options["loop"])
