"""picamera2://: what can be checked without a Raspberry Pi camera. The capture path itself
(Picamera2, capture_request) runs only on a Pi and is not tested here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drivers import registry
from drivers.base import DriverError
from drivers.camera_picamera2 import camera_number, controls_for, mode_of
from drivers.frames import CaptureMode
from tests.support.clock import FakeClock
from tests.support.paths import REPO


def test_missing_library_is_one_line_saying_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "picamera2", None)     # as on any machine but a Pi
    with pytest.raises(DriverError) as error:
        registry.open_camera("picamera2://0?width=1280&height=720&fps=30", base_dir=tmp_path,
                             clock=FakeClock())
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("picamera2 camera: the picamera2 library is not installed")
    assert "sudo apt install python3-picamera2" in message
    assert "--system-site-packages" in message


def test_the_library_is_imported_only_when_the_scheme_is_opened():
    code = ("import sys; from drivers import registry; "
            "registry.problems('camera', 'picamera2://0?fps=30'); "
            "registry.open_camera; print('picamera2' in sys.modules, "
            "'drivers.camera_picamera2' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout == "False True\n", done.stderr


@pytest.mark.parametrize("target, number", [("", 0), ("0", 0), ("1", 1)])
def test_target_is_a_camera_number(target, number):
    assert camera_number(target) == number


def test_a_target_that_is_not_a_number_is_named():
    with pytest.raises(DriverError, match=r"picamera2://cam0: the target is a camera number"):
        camera_number("cam0")


def test_the_mode_becomes_libcamera_controls():
    assert controls_for(CaptureMode()) == {}
    assert controls_for(CaptureMode(1280, 720, 30.0, "auto")) == {
        "FrameDurationLimits": (33333, 33333), "AeEnable": True}
    assert controls_for(CaptureMode(fps=25.0, exposure=8000)) == {
        "FrameDurationLimits": (40000, 40000), "AeEnable": False, "ExposureTime": 8000}


def test_the_first_frame_tells_the_mode_run():
    asked = CaptureMode(1280, 720, 30.0, 8000)
    got = mode_of((720, 1280, 3), {"FrameDuration": 33333, "ExposureTime": 7990}, asked)
    assert got == CaptureMode(1280, 720, 30.0, 8000)    # a sensor line's rounding is no change
    slow = mode_of((720, 1280, 3), {"FrameDuration": 100000, "ExposureTime": 33000}, asked)
    assert slow == CaptureMode(1280, 720, 10.0, 33000)
    assert mode_of((480, 640, 3), {}, CaptureMode(exposure="auto")) == CaptureMode(
        640, 480, None, "auto")
