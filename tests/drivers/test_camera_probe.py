"""The camera listing for provisioning: the V4L2 ioctl buffers against the kernel's struct
layouts (include/uapi/linux/videodev2.h), built here byte by byte at the documented
offsets, and what the listing does with things that are not cameras."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivers import camera_probe as probe
from drivers import registry
from drivers.camera_probe import CameraInfo, Mode


def _u32(buffer: bytearray, offset: int, value: int) -> None:
    buffer[offset:offset + 4] = value.to_bytes(4, "little")


def _chars(buffer: bytearray, offset: int, text: str) -> None:
    data = text.encode()
    buffer[offset:offset + len(data)] = data


def test_ioctl_numbers_are_the_kernels():
    # the values videodev2.h's _IOR/_IOWR macros give on x86-64 and arm64 alike
    assert probe.VIDIOC_QUERYCAP == 0x80685600
    assert probe.VIDIOC_ENUM_FMT == 0xC0405602
    assert probe.VIDIOC_ENUM_FRAMESIZES == 0xC02C564A
    assert probe.VIDIOC_ENUM_FRAMEINTERVALS == 0xC034564B


def capability(caps: int, device_caps: int) -> bytearray:
    """struct v4l2_capability: driver[16] card[32] bus_info[32] version capabilities
    device_caps reserved[3]."""
    buffer = bytearray(104)
    _chars(buffer, 0, "uvcvideo")
    _chars(buffer, 16, "HD Pro Webcam C920")
    _chars(buffer, 48, "usb-0000:01:00.0-1.2")
    _u32(buffer, 80, 0x060800)
    _u32(buffer, 84, caps)
    _u32(buffer, 88, device_caps)
    return buffer


def test_capability_names_the_camera_and_uses_the_nodes_own_caps():
    every = probe.V4L2_CAP_DEVICE_CAPS | 0x00800000 | probe.V4L2_CAP_VIDEO_CAPTURE
    video = probe.decode_capability(probe.CAPABILITY.unpack(capability(every, 0x04200001)))
    assert video == ("uvcvideo", "HD Pro Webcam C920", "usb-0000:01:00.0-1.2", 0x04200001)
    # the same webcam's metadata node: the device can capture, this node cannot
    meta = probe.decode_capability(probe.CAPABILITY.unpack(capability(every, 0x04A00000)))
    assert not meta[3] & probe.V4L2_CAP_VIDEO_CAPTURE
    # an old driver without device_caps: the device's capabilities are the node's
    old = probe.decode_capability(probe.CAPABILITY.unpack(capability(0x05000001, 0)))
    assert old[3] & probe.V4L2_CAP_VIDEO_CAPTURE


def test_format_request_and_answer_have_the_fmtdesc_layout():
    # struct v4l2_fmtdesc: index type flags description[32] pixelformat mbus_code reserved[3]
    asked = bytearray(64)
    _u32(asked, 0, 2)
    _u32(asked, 4, probe.V4L2_BUF_TYPE_VIDEO_CAPTURE)
    assert probe.FMTDESC.pack(2, probe.V4L2_BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0) == asked
    answer = bytearray(asked)
    _u32(answer, 8, 0x0001)                       # V4L2_FMT_FLAG_COMPRESSED
    _chars(answer, 12, "Motion-JPEG")
    _u32(answer, 44, int.from_bytes(b"MJPG", "little"))
    fields = probe.FMTDESC.unpack(answer)
    assert probe.fourcc_text(fields[4]) == "MJPG"
    assert probe.fourcc_code("YUYV") == 0x56595559      # v4l2_fourcc('Y','U','Y','V')


def frame_size(kind: int, *values: int) -> bytearray:
    """struct v4l2_frmsizeenum: index pixel_format type union{discrete w,h | stepwise
    min_w max_w step_w min_h max_h step_h} reserved[2]."""
    buffer = bytearray(44)
    _u32(buffer, 4, probe.fourcc_code("YUYV"))
    _u32(buffer, 8, kind)
    for n, value in enumerate(values):
        _u32(buffer, 12 + 4 * n, value)
    return buffer


def test_frame_sizes_discrete_and_stepwise():
    assert probe.FRMSIZE.pack(0, probe.fourcc_code("YUYV"), 0, *[0] * 6) == frame_size(0)
    discrete = probe.FRMSIZE.unpack(frame_size(probe.DISCRETE, 1280, 720))
    assert probe.decode_frame_size(discrete) == [(1280, 720)]
    stepwise = probe.FRMSIZE.unpack(frame_size(probe.STEPWISE, 32, 1920, 2, 32, 1080, 2))
    assert probe.decode_frame_size(stepwise) == [(1920, 1080), (32, 32)]


def frame_interval(kind: int, *values: int) -> bytearray:
    """struct v4l2_frmivalenum: index pixel_format width height type union{discrete
    fract | stepwise min max step fracts} reserved[2]."""
    buffer = bytearray(52)
    _u32(buffer, 4, probe.fourcc_code("MJPG"))
    _u32(buffer, 8, 1280)
    _u32(buffer, 12, 720)
    _u32(buffer, 16, kind)
    for n, value in enumerate(values):
        _u32(buffer, 20 + 4 * n, value)
    return buffer


def test_frame_intervals_become_frames_per_second():
    asked = probe.FRMIVAL.pack(0, probe.fourcc_code("MJPG"), 1280, 720, 0, *[0] * 6)
    assert asked == frame_interval(0)
    assert probe.decode_frame_rate(probe.FRMIVAL.unpack(
        frame_interval(probe.DISCRETE, 1, 30))) == 30.0
    assert probe.decode_frame_rate(probe.FRMIVAL.unpack(
        frame_interval(probe.DISCRETE, 1001, 30000))) == 29.97
    # a range: its shortest interval (1/60 s) is the fastest rate
    assert probe.decode_frame_rate(probe.FRMIVAL.unpack(
        frame_interval(probe.CONTINUOUS, 1, 60, 1, 5, 1, 1))) == 60.0
    assert probe.decode_frame_rate(probe.FRMIVAL.unpack(frame_interval(probe.DISCRETE))) \
        is None


def test_things_that_are_not_cameras_are_skipped(tmp_path):
    (tmp_path / "video0").write_bytes(b"\0" * 200)
    os.mkfifo(tmp_path / "video1")                       # opening it must not hang
    paths = [tmp_path / "video0", tmp_path / "video1", tmp_path / "video2", Path("/dev/null")]
    assert [probe.probe_v4l2(path) for path in paths] == [None] * 4
    assert probe.list_cameras(paths, picamera2=False) == []


def test_this_machine_without_cameras_lists_none():
    if list(Path("/dev").glob("video*")):
        pytest.skip("this machine has V4L2 nodes")
    assert probe.list_cameras() == []


def test_without_picamera2_no_pi_camera_is_listed(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "picamera2", None)
    assert probe.list_picamera2() == []


def test_modes_read_as_one_line_per_size_and_format():
    info = CameraInfo("v4l2:///dev/video0", "HD Pro Webcam C920", [
        Mode(1280, 720, 30.0, "MJPG"), Mode(1280, 720, 15.0, "MJPG"),
        Mode(1280, 720, 10.0, "YUYV"), Mode(640, 480, 29.97, "YUYV")])
    assert probe.describe_modes(info) == ["1280x720 MJPG @ 30, 15 fps",
                                          "1280x720 YUYV @ 10 fps", "640x480 YUYV @ 29.97 fps"]


def test_a_listed_mode_makes_a_url_config_check_accepts():
    mode = Mode(1280, 720, 30.0, "MJPG")
    url = (f"v4l2:///dev/v4l/by-id/usb-cam-video-index0?width={mode.width}"
           f"&height={mode.height}&fps={mode.fps:g}&format={mode.pixel_format}")
    assert registry.problems("camera", url) == []


def test_struct_sizes_match_the_kernel():
    assert [s.size for s in (probe.CAPABILITY, probe.FMTDESC, probe.FRMSIZE, probe.FRMIVAL)] \
        == [104, 64, 44, 52]
