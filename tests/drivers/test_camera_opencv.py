"""Cameras OpenCV opens: folders of images, video files, missing sources."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.base import DriverError
from drivers.camera_opencv import OpenCvCamera
from drivers.sim.render import Renderer
from tests.support.clock import FakeClock
from tests.support.frames import frames_until_end


def _rendered(texts: list[str | None], seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    renderer = Renderer((640, 480))
    return [renderer.frame(text, rng) for text in texts]


def test_folder_of_images_plays_in_name_order_and_ends(tmp_path, decoder):
    texts = ["CP1:FIRST", "CP1:SECOND", "CP1:THIRD"]
    for n, image in enumerate(_rendered(texts)):
        cv2.imwrite(str(tmp_path / f"frame-{n:02}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    camera = OpenCvCamera(str(tmp_path), clock=FakeClock())
    frames = frames_until_end(camera)
    camera.close()
    decoded = [text for frame in frames for text in decoder.decode(frame.image)]
    assert decoded[-1] == "CP1:THIRD"
    assert decoded == sorted(decoded, key=texts.index)   # name order, whatever was dropped
    assert len(frames) + camera.dropped == 3
    assert camera.ended


def test_folder_loops_when_asked(tmp_path):
    cv2.imwrite(str(tmp_path / "only.png"), _rendered(["CP1:LOOP"])[0])
    with OpenCvCamera(str(tmp_path), clock=FakeClock(), loop=True) as camera:
        assert camera.latest(after=2, timeout=5).index >= 3


def test_video_file_frames_decode_to_the_text(tmp_path, decoder):
    path = tmp_path / "gate.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for image in _rendered([None, None] + ["CP1:VIDEO-PASS"] * 4):
        writer.write(image)
    writer.release()
    camera = OpenCvCamera(str(path), clock=FakeClock())
    frames = frames_until_end(camera)
    camera.close()
    assert len(frames) + camera.dropped == 6
    assert decoder.decode(frames[-1].image) == ["CP1:VIDEO-PASS"]


def test_missing_sources_are_driver_errors_naming_them(tmp_path):
    with pytest.raises(DriverError, match="gone.mp4: no such file or folder"):
        OpenCvCamera(str(tmp_path / "gone.mp4"), clock=FakeClock())
    with pytest.raises(DriverError, match="/dev/video99: no such device"):
        OpenCvCamera("/dev/video99", clock=FakeClock())
    with pytest.raises(DriverError, match="no images"):
        OpenCvCamera(str(tmp_path), clock=FakeClock())
    (tmp_path / "clip.mp4").write_bytes(b"not a video")
    with pytest.raises(DriverError, match="OpenCV cannot open it"):
        OpenCvCamera(str(tmp_path / "clip.mp4"), clock=FakeClock())
