"""The simulated camera: a real scene rendered into frames the real decoder reads."""

from __future__ import annotations

import time

from drivers.registry import open_camera
from drivers.sim.camera import SimCamera
from drivers.sim.scene import Person, Scene
from models.keys import new_private_key, private_pem
from tests.support.clock import FakeClock


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
