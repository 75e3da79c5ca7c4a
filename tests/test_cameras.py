"""Cameras: the latest-frame buffer, the simulated camera over a real scene, OpenCV sources."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from drivers.base import DriverError
from drivers.camera_opencv import OpenCvCamera
from drivers.clock import FakeClock
from drivers.frames import LatestFrame
from drivers.qr import make_decoder
from drivers.registry import open_camera
from drivers.sim.camera import SimCamera
from drivers.sim.render import Renderer
from drivers.sim.scene import Person, Scene
from models.keys import new_private_key, private_pem


@pytest.fixture(scope="module")
def decoder():
    return make_decoder("auto")


def _frames_until_end(camera, timeout: float = 5.0) -> list:
    frames, last = [], 0
    while (frame := camera.latest(after=last, timeout=timeout)) is not None:
        frames.append(frame)
        last = frame.index
    return frames


# -- the latest-frame buffer --------------------------------------------------------------

def test_buffer_keeps_only_the_newest_frame_and_counts_the_unread_ones():
    buffer = LatestFrame()
    for n in range(3):
        buffer.put(f"image {n}", t_mono=float(n))
    frame = buffer.latest(after=0, timeout=0)
    assert (frame.image, frame.index, frame.t_mono) == ("image 2", 3, 2.0)
    assert buffer.dropped == 2
    buffer.put("image 3", t_mono=3.0)
    assert buffer.dropped == 2          # frame 3 had been read before it was replaced
    assert buffer.latest(after=4, timeout=0) is None


def test_buffer_wakes_a_waiting_reader_and_close_releases_it():
    buffer = LatestFrame()
    got = []
    reader = threading.Thread(target=lambda: got.append(buffer.latest(after=0, timeout=10)))
    reader.start()
    buffer.put("image", t_mono=1.0)
    reader.join(timeout=5)
    assert got[0].image == "image"
    waiting = threading.Thread(target=lambda: got.append(buffer.latest(after=1, timeout=10)))
    waiting.start()
    buffer.close()
    waiting.join(timeout=5)
    assert not waiting.is_alive() and got[1] is None


# -- the simulated camera -----------------------------------------------------------------

def test_sim_camera_shows_the_scene_pass_then_nothing_between_people(decoder):
    clock = FakeClock()
    scene = Scene([Person("green", 36.5)], clock=clock, issuer_key_pem=private_pem(
        new_private_key()), present_s=5.0, gap_s=5.0)
    with SimCamera(scene, clock=clock, fps=30) as camera:
        frame = camera.latest(after=0, timeout=5)
        expected = scene.at(frame.t_mono).text
        assert expected.startswith("CP1:")
        assert decoder.decode(frame.image) == [expected]
        clock.advance(6.0)                       # the person left; the next one is not there
        while frame.t_mono < clock.monotonic():  # skip frames captured before the step
            frame = camera.latest(after=frame.index, timeout=5)
        assert scene.at(frame.t_mono) is None
        assert decoder.decode(frame.image) == []


def test_sim_camera_without_scene_gives_empty_frames_and_counts_drops(decoder):
    with SimCamera(None, clock=FakeClock(), fps=60, size=(1280, 720)) as camera:
        frame = camera.latest(after=3, timeout=5)
        assert frame.image.shape == (720, 1280, 3)
        assert decoder.decode(frame.image) == []
        assert camera.dropped >= frame.index - 1 >= 3
        assert camera.describe() == "sim 1280x720 @ 60 fps"


def test_sim_camera_closes_without_waiting_for_the_next_frame():
    camera = SimCamera(None, clock=FakeClock(), fps=0.2)
    assert camera.latest(after=0, timeout=5) is not None
    started = time.monotonic()
    camera.close()
    assert time.monotonic() - started < 1.0      # the next frame was 5 s away
    assert camera.latest(after=1, timeout=5) is None


def test_registry_opens_the_sim_camera_with_its_fps(tmp_path):
    with open_camera("sim://?fps=20", base_dir=tmp_path, clock=FakeClock()) as camera:
        assert camera.describe().endswith("@ 20 fps")


# -- OpenCV sources -----------------------------------------------------------------------

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
    frames = _frames_until_end(camera)
    camera.close()
    decoded = [text for frame in frames for text in decoder.decode(frame.image)]
    assert decoded[-1] == "CP1:THIRD"
    assert decoded == sorted(decoded, key=texts.index)   # name order, whatever was dropped
    assert len(frames) + camera.dropped == 3
    assert camera.finished


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
    frames = _frames_until_end(camera)
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
