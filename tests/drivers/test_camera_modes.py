"""Resolution, frame rate and exposure as camera URL options: checked as `config check`
checks them, applied by the simulated camera as a real one applies them, and a camera that
runs another mode than asked says so."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pytest

from drivers import registry
from drivers.frames import CaptureMode, mode_differences
from tests.support.clock import FakeClock
from tests.support.frames import frames_until_end
from tests.support.loglines import captured_lines
from tests.support.paths import CHECKPOINT, REPO


@pytest.mark.parametrize("url", [
    "v4l2:///dev/video0?width=1280&height=720&fps=30&exposure=auto",
    "v4l2://0?width=1920&height=1080&fps=29.97&exposure=8000&format=MJPG",
    "picamera2://?width=1280&height=720&fps=30",
    "picamera2://1?exposure=10000",
    "file://clips/gate.mp4?fps=10&loop=1",
    "sim://?width=1280&height=720&fps=30",
])
def test_mode_options_are_accepted(url):
    assert registry.problems("camera", url) == []


@pytest.mark.parametrize("url, problem", [
    ("v4l2:///dev/video0?width=wide", "width='wide': allowed: a whole number from 16 to 8192"),
    ("v4l2:///dev/video0?height=100000", "height='100000': allowed: a whole number from 16"),
    ("v4l2:///dev/video0?fps=0", "fps='0': allowed: a number above 0, at most 1000"),
    ("v4l2:///dev/video0?fps=nan", "fps='nan': allowed: a number above 0"),
    ("v4l2:///dev/video0?exposure=short",
     "exposure='short': allowed: auto, or microseconds from 1 to 10000000"),
    ("v4l2:///dev/video0?exposure=2.5", "exposure='2.5': allowed: auto, or microseconds"),
    ("v4l2:///dev/video0?format=MJPEG", "format='MJPEG': allowed: a four-letter pixel format"),
    ("v4l2:///dev/video0?resolution=720p",
     "unknown option(s) resolution; allowed: width, height, fps, exposure, format"),
    ("picamera2://0?width=1281", "width='1281': allowed: an even whole number"),
    ("picamera2://0?format=MJPG",
     "unknown option(s) format; allowed: width, height, fps, exposure"),
    ("file://clip.mp4?width=640", "unknown option(s) width; allowed: loop, fps"),
    ("sim://?exposure=auto", "unknown option(s) exposure; allowed: fps, fail_every, width"),
])
def test_bad_mode_options_are_named(url, problem):
    problems = registry.problems("camera", url)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_config_check_names_every_bad_camera_option(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = own / "checkpoint.toml"
    url = "v4l2:///dev/video0?width=1280&height=7x&fps=-1&iso=100"
    config.write_text(config.read_text().replace('url = "sim://demo-scenario.toml"',
                                                 f'url = "{url}"'))
    done = subprocess.run([*CHECKPOINT, "config", "check", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = next(entry for entry in done.stderr.splitlines() if "[camera]" in entry)
    for problem in ("unknown option(s) iso", "height='7x'", "fps='-1'"):
        assert problem in line, line


def test_sim_camera_delivers_the_mode_the_url_asks_for(tmp_path):
    url = "sim://?width=1280&height=720&fps=30"
    with captured_lines() as lines, \
            registry.open_camera(url, base_dir=tmp_path, clock=FakeClock()) as camera:
        frame = camera.latest(after=0, timeout=5)
        assert frame.image.shape == (720, 1280, 3)
        assert camera.describe() == "sim 1280x720 @ 30 fps"
        assert camera.mode_note == ""
    assert not [line for line in lines if "camera_mode_differs" in line]


def test_sim_camera_keeps_4_by_3_when_one_side_is_given(tmp_path):
    with registry.open_camera("sim://?height=600", base_dir=tmp_path,
                              clock=FakeClock()) as camera:
        assert camera.latest(after=0, timeout=5).image.shape == (600, 800, 3)


def test_a_mode_the_camera_lacks_is_said_not_silently_replaced(tmp_path):
    url = "sim://?width=3840&height=2160&fps=120"
    with captured_lines() as lines, \
            registry.open_camera(url, base_dir=tmp_path, clock=FakeClock()) as camera:
        frame = camera.latest(after=0, timeout=5)
        assert frame.image.shape == (1080, 1920, 3)      # the simulated sensor's largest
        assert camera.mode_note == "width 3840 -> 1920; height 2160 -> 1080; fps 120 -> 60"
        assert camera.describe() == ("sim 1920x1080 @ 60 fps (asked 3840x2160 @ 120 fps: "
                                     "width 3840 -> 1920; height 2160 -> 1080; fps 120 -> 60)")
    differs = [line for line in lines if "event=camera_mode_differs" in line]
    assert differs == ['event=camera_mode_differs camera=sim asked="3840x2160 @ 120 fps" '
                       'got="1920x1080 @ 60 fps" differs="width 3840 -> 1920; height 2160 '
                       '-> 1080; fps 120 -> 60"']


def test_a_folder_plays_at_the_rate_asked(tmp_path):
    image = np.full((240, 320, 3), 255, np.uint8)
    for n in range(3):
        cv2.imwrite(str(tmp_path / f"{n}.png"), image)
    with registry.open_camera(f"file://{tmp_path}/?fps=60", base_dir=tmp_path,
                              clock=FakeClock()) as camera:
        assert len(frames_until_end(camera)) + camera.dropped == 3
        assert camera.describe() == f"opencv folder {tmp_path} 60 fps"


def test_a_video_file_reports_its_own_size_and_the_rate_asked(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (320, 240))
    for _ in range(2):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    with registry.open_camera("file://clip.avi?fps=5", base_dir=tmp_path,
                              clock=FakeClock()) as camera:
        assert camera.describe() == f"opencv file {path} 320x240 @ 5 fps"
    with registry.open_camera("file://clip.avi", base_dir=tmp_path,
                              clock=FakeClock()) as camera:
        assert camera.describe() == f"opencv file {path} 320x240 @ 30 fps"


def test_differences_name_each_part_and_forgive_ntsc_rates():
    asked = CaptureMode(1920, 1080, 30.0, 2000, "MJPG")
    assert mode_differences(asked, CaptureMode(1920, 1080, 29.97, 2000, "MJPG")) == []
    assert mode_differences(asked, CaptureMode(1280, 720, 5.0, "auto", "YUYV")) == [
        "width 1920 -> 1280", "height 1080 -> 720", "format MJPG -> YUYV",
        "exposure 2000 -> auto", "fps 30 -> 5"]
    assert mode_differences(CaptureMode(fps=30.0), CaptureMode(640, 480, None)) == [
        "fps 30 -> unknown"]
    assert mode_differences(CaptureMode(), CaptureMode(640, 480, 30.0)) == []
