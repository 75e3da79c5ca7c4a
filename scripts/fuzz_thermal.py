"""Fuzz the thermal framers: random bytes with real, damaged and fake frames mixed in.

    python scripts/fuzz_thermal.py [--megabytes 4] [--seed 1]

Feeds each protocol's framer in random chunks and checks every frame it accepts against
the stream: a GY frame must re-encode (header, checksum and all) to bytes present in the
input, an ASCII reading must be the reading of a whole line of the input. Prints one JSON
line per protocol: bytes fed, CPU seconds, frames planted and accepted, accepted frames
that random bytes formed with a valid checksum by chance (an 8-bit sum passes 1 in 256),
and violations (must be 0). A hang would show as a run that never ends.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from drivers.sim.thermal_speakers import scene_pixels
from drivers.thermal import ascii_bridge, gy90614, gy90640


def planted_frame(protocol: str, rng: random.Random) -> bytes:
    temp = rng.uniform(20.0, 40.0)
    if protocol == gy90640.PROTOCOL:
        return gy90640.encode_frame(scene_pixels(temp, rng.random(), rng), 25.0)
    if protocol == ascii_bridge.PROTOCOL:
        return ascii_bridge.encode_line(temp, rng.choice([None, 24.5]))
    return gy90614.encode_frame(temp, 25.0)


def damaged(frame: bytes, rng: random.Random) -> bytes:
    where = rng.randrange(len(frame))
    choice = rng.randrange(3)
    if choice == 0:
        return frame[:where] + frame[where + 1:]
    if choice == 1:
        return frame[:where] + bytes((frame[where] ^ (1 << rng.randrange(8)),)) + frame[where + 1:]
    return frame[:where]


def stream(protocol: str, size: int, rng: random.Random) -> tuple[bytes, list[bytes]]:
    parts, total, planted = [], 0, []
    while total < size:
        pick = rng.random()
        if pick < 0.5:
            part = rng.randbytes(rng.randrange(1, 64))
        elif pick < 0.75:
            part = planted_frame(protocol, rng)
            planted.append(part)
        else:
            part = damaged(planted_frame(protocol, rng), rng)
        parts.append(part)
        total += len(part)
    return b"".join(parts), planted


def encoded(protocol: str, found) -> bytes:
    """The exact bytes an accepted frame must have come from."""
    if protocol == gy90640.PROTOCOL:
        if isinstance(found, gy90640.EmissivityReply):
            return gy90640.encode_emissivity(round(found.emissivity * 100))
        return gy90640.encode_frame(list(found.pixels), found.ambient_c)
    body = gy90614.HEADER + bytes((found.kind, len(found.data))) + found.data
    return body + bytes((gy90614.sum8(body),))


def fuzz(protocol: str, framer_class, size: int, rng: random.Random) -> dict:
    data, planted_list = stream(protocol, size, rng)
    planted = set(planted_list)
    framer, accepted, offset = framer_class(), [], 0
    started = time.process_time()
    while offset < len(data):
        step = rng.randrange(1, 2048)
        accepted += framer.feed(data[offset:offset + step])
        offset += step
    cpu = time.process_time() - started
    if protocol == ascii_bridge.PROTOCOL:
        lines = {ascii_bridge.parse_line(line.decode("utf-8", "replace"))
                 for line in data.split(b"\n")}
        bad = sum(found not in lines for found in accepted)
        chance = 0
    else:
        unplanted = [raw for raw in (encoded(protocol, f) for f in accepted)
                     if raw not in planted]
        bad = sum(raw not in data for raw in unplanted)
        chance = len(unplanted) - bad
    return {"protocol": protocol, "bytes": len(data), "cpu_s": round(cpu, 2),
            "planted": len(planted_list), "accepted": len(accepted),
            "valid_by_chance": chance, "violations": bad}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    size = int(args.megabytes * 1_000_000)
    framers = {gy90614.PROTOCOL: gy90614.Framer, gy90640.PROTOCOL: gy90640.Framer,
               ascii_bridge.PROTOCOL: ascii_bridge.Framer}
    failures = 0
    for protocol, framer_class in framers.items():
        result = fuzz(protocol, framer_class, size, rng)
        failures += result["violations"]
        print(json.dumps(result), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
