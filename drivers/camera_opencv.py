"""Cameras OpenCV can open: a V4L2 device, a video file, or a folder of images.

    OpenCvCamera("/dev/video0")            a V4L2 device (or an index such as "0")
    OpenCvCamera("/clips/gate.mp4")        a video, played at its own frame rate
    OpenCvCamera("/clips/frames/")         the folder's images in name order, at 15 fps

A capture thread reads frames as the source delivers them into a `LatestFrame`, so the
scanner always gets the newest one. A file source ends (latest() returns None at once)
unless `loop` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.base import DriverError
from drivers.frames import CaptureCamera

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FOLDER_FPS = 15.0


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
        super().__init__()
        self.clock = clock
        self.loop = loop
        self._source = _open_source(source)
        self._start_capture()

    @property
    def finished(self) -> bool:
        """True once a file source has delivered its last frame."""
        return self._buffer.closed

    def describe(self) -> str:
        return f"opencv {self._source.name}"

    def _release(self) -> None:
        self._source.release()

    def _capture(self) -> None:
        delivered = False   # since the last rewind: a source with no good frame stops
        try:
            while not self._stop.is_set():
                image = self._source.read()
                if image is None:
                    if not (self.loop and delivered and self._source.rewind()):
                        return
                    delivered = False
                    continue
                delivered = True
                self._buffer.put(image, self.clock.monotonic())
                if self._source.interval:
                    self._stop.wait(self._source.interval)
        finally:
            self._buffer.close()


def _open_source(source: str | int):
    if isinstance(source, int) or source.isdigit():
        return _VideoSource(int(source), f"device {source}", interval=0.0)
    path = Path(source)
    if not path.exists():
        what = "device" if source.startswith("/dev/") else "file or folder"
        raise DriverError(f"camera {source}: no such {what}")
    if path.is_dir():
        return _FolderSource(path)
    if source.startswith("/dev/"):
        return _VideoSource(source, f"device {source}", interval=0.0)
    return _VideoSource(source, f"file {source}", interval=None)


class _VideoSource:
    """cv2.VideoCapture; `interval` None means pace at the file's own frame rate."""

    def __init__(self, target: str | int, name: str, interval: float | None) -> None:
        import cv2

        self.name = name
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            raise DriverError(f"camera {name}: OpenCV cannot open it")
        if interval is None:
            fps = self._capture.get(cv2.CAP_PROP_FPS)
            interval = 1.0 / fps if 0 < fps < 1000 else 1.0 / FOLDER_FPS
        else:
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # a live device: keep no backlog
        self.interval = interval

    def read(self) -> Any | None:
        ok, image = self._capture.read()
        return image if ok else None

    def rewind(self) -> bool:
        import cv2

        return self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def release(self) -> None:
        self._capture.release()


class _FolderSource:
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
