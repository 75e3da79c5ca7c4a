"""The camera and decoder lines: frames arrive (at what rate and size), and the gate's
decoder reads a code pasted into one of them.

The code is pasted clean into a live frame, so a failure is the decoder's or the frame
format's, not the phone's or the light's: what this proves is that the decoder this
agent runs works on this camera's frames.
"""

from __future__ import annotations

import secrets
import time

from drivers import registry
from drivers.base import DriverError
from edge.doctor.result import Context, Finding, fail, ok, warn

MEASURE_S = 1.5         # long enough for a rate, short enough to wait for
FIRST_FRAME_S = 5.0     # a USB camera may take seconds to start streaming
MIN_FPS = 5.0           # slower and a code shown briefly may be missed
CODE_FILL = 0.4         # of the frame's shorter side: a phone held at the usual distance
CAMERA_HINT = ("check the cable and [camera] url (`v4l2-ctl --list-devices` lists cameras); "
               "the service user needs the video group; stop the service if it holds the camera")


def check_camera(context: Context) -> Finding:
    from edge.agent import build_scene

    config = context.config
    try:
        scene = build_scene(config, context.clock)  # a simulated camera's demo keys, too
        camera = registry.open_camera(config.camera.url, base_dir=config.base_dir,
                                      clock=context.clock, scene=scene)
    except DriverError as exc:
        return fail(f"cannot open {config.camera.url}: {exc}", CAMERA_HINT)
    with camera:
        return _measure(camera, context)


def _measure(camera, context: Context) -> Finding:
    first = camera.latest(-1, min(FIRST_FRAME_S, context.timeout_s))
    if first is None:
        why = "ended before any frame" if camera.ended else \
            f"gave no frame within {min(FIRST_FRAME_S, context.timeout_s):g} s"
        return fail(f"{camera.describe()} opened but {why}", CAMERA_HINT)
    last = first
    until = time.monotonic() + min(MEASURE_S, context.timeout_s / 3)
    while (left := until - time.monotonic()) > 0:
        frame = camera.latest(last.index, left)
        if frame is None:
            break
        last = frame
    context.shared["frame"] = last.image
    height, width = last.image.shape[:2]
    seconds = last.t_mono - first.t_mono
    if last.index == first.index or seconds <= 0:
        return warn(f"{camera.describe()}: one {width}x{height} frame, then none",
                    "the camera stalls: check its power (a USB hub) and [camera] url options")
    fps = (last.index - first.index) / seconds
    detail = f"{width}x{height} at {fps:.1f} fps ({camera.describe()})"
    if fps < MIN_FPS:
        return warn(f"{detail} (under {MIN_FPS:g})",
                    "more light, or a lower resolution or fixed exposure in [camera] url")
    return ok(detail)


def check_decoder(context: Context) -> Finding:
    from drivers.qr import make_decoder

    frame = context.shared.get("frame")
    if frame is None:
        return fail("not tried: the camera gave no frame", "fix the camera line first")
    text = f"checkpoint-doctor-{secrets.token_hex(4)}"
    image = paste_code(frame, text)
    if image is None:
        height, width = frame.shape[:2]
        return fail(f"a {width}x{height} frame is too small to hold a code",
                    "set a larger resolution in [camera] url (e.g. width=640&height=480)")
    try:
        decoder = make_decoder("auto")
    except ImportError as exc:
        return fail(f"the decoder cannot load: {exc}",
                    "reinstall: scripts/install-pi.sh --upgrade (zxing-cpp, libzbar0)")
    started = time.monotonic()
    texts = decoder.decode(image)
    ms = (time.monotonic() - started) * 1000
    if text not in texts:
        return fail("a code pasted into a live frame was not read",
                    "the frames are in a format the decoder cannot use: check the camera's "
                    "pixel format, or reinstall the decoder (zxing-cpp, libzbar0)")
    return ok(f"read a code pasted into a live frame in {ms:.0f} ms")


def paste_code(frame, text: str):
    """A copy of `frame` with the QR code of `text` in its middle (None: no room)."""
    import numpy as np

    from drivers.qr import to_gray
    from drivers.sim.render import qr_raster

    if frame.dtype != np.uint8:
        frame = to_gray(frame)
    height, width = frame.shape[:2]
    modules = qr_raster(text, 1).shape[0]
    module_px = int(CODE_FILL * min(height, width) / modules)
    if module_px < 2:
        return None
    code = qr_raster(text, module_px)
    side = code.shape[0]
    image = frame.copy()
    top, left = (height - side) // 2, (width - side) // 2
    region = image[top:top + side, left:left + side]
    if image.ndim == 3:
        code = np.repeat(code[:, :, None], image.shape[2], axis=2)
        if image.shape[2] == 4:
            code[:, :, 3] = 255
    region[...] = code
    return image
