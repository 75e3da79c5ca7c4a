"""The cameras this machine has and the modes each offers, for provisioning a gate.

    list_cameras() -> [CameraInfo(url="v4l2:///dev/v4l/by-id/usb-...-video-index0",
                                  name="HD Pro Webcam C920 (usb-0000:01:00.0-1.2)",
                                  modes=[Mode(1280, 720, 30.0, "MJPG"), ...]), ...]

V4L2 devices are asked through the kernel's own ioctls (VIDIOC_QUERYCAP, VIDIOC_ENUM_FMT,
VIDIOC_ENUM_FRAMESIZES, VIDIOC_ENUM_FRAMEINTERVALS; include/uapi/linux/videodev2.h), so no
tool need be installed. Only nodes that capture video in a format OpenCV can turn into
frames are offered: a webcam's metadata node, a codec, or the Pi's raw Bayer sensor node
(served by libcamera instead) are left out. Raspberry Pi cameras come from picamera2 when
that library is importable. Every URL is one `config check` accepts, and a device that
errors is skipped: listing never raises.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from runtime import logs

# -- ioctl numbers: _IOC(dir, 'V', nr, size) as in include/uapi/asm-generic/ioctl.h -------
_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(direction: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("V") << 8) | number


# struct layouts, native alignment: every field is a __u32 or a byte array
CAPABILITY = struct.Struct("=16s32s32sIII12x")         # struct v4l2_capability, 104 bytes
FMTDESC = struct.Struct("=III32sII12x")                # struct v4l2_fmtdesc, 64 bytes
FRMSIZE = struct.Struct("=III6I8x")                    # struct v4l2_frmsizeenum, 44 bytes
FRMIVAL = struct.Struct("=IIIII6I8x")                  # struct v4l2_frmivalenum, 52 bytes

VIDIOC_QUERYCAP = _ioc(_IOC_READ, 0, CAPABILITY.size)
VIDIOC_ENUM_FMT = _ioc(_IOC_READ | _IOC_WRITE, 2, FMTDESC.size)
VIDIOC_ENUM_FRAMESIZES = _ioc(_IOC_READ | _IOC_WRITE, 74, FRMSIZE.size)
VIDIOC_ENUM_FRAMEINTERVALS = _ioc(_IOC_READ | _IOC_WRITE, 75, FRMIVAL.size)

V4L2_CAP_VIDEO_CAPTURE, V4L2_CAP_DEVICE_CAPS = 0x00000001, 0x80000000
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
DISCRETE, CONTINUOUS, STEPWISE = 1, 2, 3     # v4l2_frmsizetypes and v4l2_frmivaltypes
# Formats OpenCV's V4L2 backend converts to BGR frames
USABLE_FORMATS = ("MJPG", "JPEG", "YUYV", "UYVY", "YU12", "YV12", "NV12", "NV21", "RGB3",
                  "BGR3", "GREY", "BA81")
MAX_INDEX = 256     # bounds every enumeration against a driver that never says "no more"


@dataclass(frozen=True)
class Mode:
    width: int
    height: int
    fps: float
    pixel_format: str   # a V4L2 FOURCC (MJPG, YUYV) or a libcamera sensor format


@dataclass(frozen=True)
class CameraInfo:
    url: str            # for [camera] url, as config check accepts it
    name: str
    modes: list[Mode] = field(default_factory=list)


def list_cameras(devices: list[Path] | None = None, picamera2: bool = True) -> list[CameraInfo]:
    """Every camera found: V4L2 nodes (`devices`, default /dev/video*), then Raspberry Pi
    cameras through picamera2 when it is importable."""
    if devices is None:
        devices = sorted(Path("/dev").glob("video*"), key=_node_number)
    found = [info for info in map(probe_v4l2, devices) if info is not None]
    if picamera2:
        found += list_picamera2()
    return found


def describe_modes(info: CameraInfo) -> list[str]:
    """For a technician: one line per size and format, its rates fastest first."""
    rates: dict[tuple, list[float]] = {}
    for mode in info.modes:
        rates.setdefault((mode.width, mode.height, mode.pixel_format), []).append(mode.fps)
    return [f"{w}x{h} {fmt} @ {', '.join(f'{r:g}' for r in sorted(set(fps), reverse=True))} fps"
            for (w, h, fmt), fps in rates.items()]


# -- V4L2 -----------------------------------------------------------------------------------

def probe_v4l2(path: Path) -> CameraInfo | None:
    """A V4L2 capture device's name and modes; None for anything else (a file, a metadata
    node, a device that errors)."""
    try:
        if not stat.S_ISCHR(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return _probe_open(fd, path)
    except OSError as exc:
        logs.event("camera_probe_failed", logging.INFO, device=str(path), error=repr(exc))
        return None
    finally:
        os.close(fd)


def _probe_open(fd: int, path: Path) -> CameraInfo | None:
    try:
        driver, card, bus, caps = decode_capability(_ioctl(fd, VIDIOC_QUERYCAP, CAPABILITY))
    except OSError:
        return None     # not a V4L2 device at all (ENOTTY)
    if not caps & V4L2_CAP_VIDEO_CAPTURE:
        return None
    modes = [mode for fourcc in _formats(fd) if fourcc in USABLE_FORMATS
             for mode in _modes(fd, fourcc)]
    if not modes:
        return None
    name = f"{card or driver} ({bus})" if bus else (card or driver)
    return CameraInfo(f"v4l2://{_stable_path(path)}", name, modes)


def _ioctl(fd: int, request: int, layout: struct.Struct, *fields) -> tuple:
    buffer = bytearray(layout.pack(*fields) if fields else layout.size)
    fcntl.ioctl(fd, request, buffer, True)
    return layout.unpack(buffer)


def decode_capability(fields: tuple) -> tuple[str, str, str, int]:
    """driver, card, bus_info and the node's own capabilities from a v4l2_capability."""
    driver, card, bus, _version, capabilities, device_caps = fields
    caps = device_caps if capabilities & V4L2_CAP_DEVICE_CAPS else capabilities
    return _text(driver), _text(card), _text(bus), caps


def _formats(fd: int) -> list[str]:
    formats = []
    for index in range(MAX_INDEX):
        try:
            fields = _ioctl(fd, VIDIOC_ENUM_FMT, FMTDESC, index, V4L2_BUF_TYPE_VIDEO_CAPTURE,
                            0, b"", 0, 0)
        except OSError:
            break       # EINVAL: no more formats
        formats.append(fourcc_text(fields[4]))
    return formats


def _modes(fd: int, fourcc: str) -> list[Mode]:
    modes = []
    for width, height in _sizes(fd, fourcc):
        modes += [Mode(width, height, fps, fourcc) for fps in _rates(fd, fourcc, width, height)]
    return modes


def _sizes(fd: int, fourcc: str) -> list[tuple[int, int]]:
    sizes = []
    for index in range(MAX_INDEX):
        try:
            fields = _ioctl(fd, VIDIOC_ENUM_FRAMESIZES, FRMSIZE, index, fourcc_code(fourcc),
                            0, *[0] * 6)
        except OSError:
            break
        found = decode_frame_size(fields)
        sizes += found
        if len(found) != 1 or fields[2] != DISCRETE:
            break       # a stepwise or continuous range is the only entry
    return sizes


def decode_frame_size(fields: tuple) -> list[tuple[int, int]]:
    """The sizes one v4l2_frmsizeenum names: its one size, or a range's largest and
    smallest (what a technician picks from)."""
    kind, values = fields[2], fields[3:]
    if kind == DISCRETE:
        return [(values[0], values[1])]
    min_w, max_w, _step_w, min_h, max_h, _step_h = values
    return [(max_w, max_h)] + ([(min_w, min_h)] if (min_w, min_h) != (max_w, max_h) else [])


def _rates(fd: int, fourcc: str, width: int, height: int) -> list[float]:
    rates = []
    for index in range(MAX_INDEX):
        try:
            fields = _ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, FRMIVAL, index,
                            fourcc_code(fourcc), width, height, 0, *[0] * 6)
        except OSError:
            break
        rate = decode_frame_rate(fields)
        if rate:
            rates.append(rate)
        if fields[4] != DISCRETE:
            break
    return rates


def decode_frame_rate(fields: tuple) -> float | None:
    """Frames per second from a v4l2_frmivalenum: the one interval, or a range's shortest
    (the fastest rate)."""
    numerator, denominator = fields[5], fields[6]     # discrete, or a range's min interval
    if not numerator or not denominator:
        return None
    return round(denominator / numerator, 3)


def fourcc_code(text: str) -> int:
    return int.from_bytes(text.encode("ascii"), "little")


def fourcc_text(code: int) -> str:
    return code.to_bytes(4, "little").decode("ascii", "replace").rstrip("\0 ")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _node_number(path: Path) -> tuple:
    digits = path.name.removeprefix("video")
    return (0, int(digits)) if digits.isdigit() else (1, path.name)


def _stable_path(path: Path) -> Path:
    """/dev/v4l/by-id/... when udev made one for this node: it names the same camera after
    a reboot or a replug, where /dev/videoN may change."""
    try:
        node = path.resolve()
        for link in sorted(Path("/dev/v4l/by-id").iterdir()):
            if link.resolve() == node:
                return link
    except OSError:
        pass
    return path


# -- picamera2 ------------------------------------------------------------------------------

def list_picamera2() -> list[CameraInfo]:
    """Raspberry Pi cameras, when picamera2 imports; USB cameras libcamera also sees are
    left to the V4L2 listing."""
    try:
        from drivers.camera_picamera2 import load_library

        library = load_library()
        cameras = library.global_camera_info()
    except Exception:   # no library, or libcamera cannot start: no Pi cameras to offer
        return []
    found = []
    for number, info in enumerate(cameras):  # Picamera2(n) takes the n-th of this list
        if "/usb" in str(info.get("Id", "")):
            continue
        name = " ".join(str(info[k]) for k in ("Model", "Location") if k in info)
        found.append(CameraInfo(f"picamera2://{number}", name or f"camera {number}",
                                _sensor_modes(library, number)))
    return found


def _sensor_modes(library, number: int) -> list[Mode]:
    """The sensor's modes; [] when the camera cannot be opened (the agent holds it)."""
    try:
        with library(number) as camera:
            return [Mode(int(m["size"][0]), int(m["size"][1]), float(m["fps"]),
                         str(m["format"])) for m in camera.sensor_modes if "size" in m]
    except Exception as exc:
        logs.event("camera_probe_failed", logging.INFO, device=f"picamera2://{number}",
                   error=repr(exc))
        return []
