"""Reading a camera the way the scanner does."""

from __future__ import annotations


def frames_until_end(camera, timeout: float = 5.0) -> list:
    frames, last = [], 0
    while (frame := camera.latest(after=last, timeout=timeout)) is not None:
        frames.append(frame)
        last = frame.index
    return frames
