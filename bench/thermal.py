"""Parser throughput: verified frames per second of CPU for each thermal protocol.

A stream of frames (one in ten damaged, so resyncing is part of the cost) is fed to the
framer in 64-byte chunks, as a USB serial adapter delivers it; `frame_fps` counts framing
and checksums only, `reading_fps` adds decoding (for the array: the face estimate).
"""

from __future__ import annotations

import random
import time

from drivers.sim.thermal_speakers import scene_pixels
from drivers.thermal import ascii_bridge, gy90614, gy90640
from drivers.thermal.protocols import PROTOCOLS

CHUNK = 64


def sample_stream(protocol: str, frames: int, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    parts = []
    for index in range(frames):
        temp = 36.0 + rng.uniform(0, 1.5)
        if protocol == gy90640.PROTOCOL:
            frame = gy90640.encode_frame(scene_pixels(temp, 1.0, rng), 25.0)
        elif protocol == ascii_bridge.PROTOCOL:
            frame = ascii_bridge.encode_line(temp, 25.0)
        else:
            frame = gy90614.encode_frame(temp, 25.0)
        if index % 10 == 9:
            frame = frame[:3] + frame[4:]       # a dropped byte: resync is part of the cost
        parts.append(frame)
    return b"".join(parts)


def measure(frames: int = 2000) -> dict:
    rows = []
    for name, spec in PROTOCOLS.items():
        count = max(50, frames // 20) if name == gy90640.PROTOCOL else frames
        stream = sample_stream(name, count)
        chunks = [stream[i:i + CHUNK] for i in range(0, len(stream), CHUNK)]
        framed, frame_cpu = _time(lambda spec=spec, chunks=chunks: _frames(spec, chunks))
        readings, read_cpu = _time(lambda spec=spec, chunks=chunks: _readings(spec, chunks))
        rows.append({"protocol": name, "frames": framed, "bytes": len(stream),
                     "frame_fps": round(framed / max(frame_cpu, 1e-9)),
                     "reading_fps": round(readings / max(read_cpu, 1e-9))})
    return {"rows": rows}


def _time(work) -> tuple[int, float]:
    started = time.process_time()
    count = work()
    return count, time.process_time() - started


def _frames(spec, chunks: list[bytes]) -> int:
    framer = spec.new_framer()
    return sum(len(framer.feed(chunk)) for chunk in chunks)


def _readings(spec, chunks: list[bytes]) -> int:
    framer = spec.new_framer()
    return sum(spec.to_reading(frame, 0.0) is not None
               for chunk in chunks for frame in framer.feed(chunk))


def show(figures: dict) -> None:
    print("Thermal parsers, frames per second of CPU (64-byte chunks, 1 frame in 10 damaged; "
          "reading = framing + decoding, the face estimate for the array)")
    print(f"{'protocol':>12} {'frames':>7} {'frame/s':>10} {'reading/s':>10}")
    for row in figures["rows"]:
        print(f"{row['protocol']:>12} {row['frames']:>7} {row['frame_fps']:>10} "
              f"{row['reading_fps']:>10}")
    print()
