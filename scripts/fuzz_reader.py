"""Fuzz the PN532 reader path: the frame codec, and the driver's command and card logic.

    python scripts/fuzz_reader.py [--megabytes 1] [--seed 1] [--json]

Two runs, each over at least the bytes asked for:

- codec: random bytes with valid PN532 frames, damaged ones and fake starts mixed in, fed
  to the FrameReader in random splits. Every frame it accepts must be bytes present in
  the stream (violations: must be 0); frames random bytes formed with valid checksums by
  chance are counted.
- driver: the driver's Link, CardPoller and Presence against a fake port that answers
  each command as a PN532 would, for a card script (no card, Type A cards, ID cards),
  with random bytes around its frames and a third of the answers damaged (bits flipped, bytes
  dropped or inserted, cut short, extended or error frames, NACKs). Every tap must be a
  card the script presented: bogus taps must be 0. Time here is a fake clock that a read
  with nothing to give moves on, so timeouts cost no real time.

Exit 1 when a violation or a bogus tap was found.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from drivers.reader import pn532
from drivers.reader.pn532_frames import (
    ACK,
    DEVICE,
    ERROR_FRAME,
    NACK,
    START,
    FrameReader,
    encode,
    response,
)

FIRMWARE = bytes((0x32, 0x01, 0x06, 0x07))
ATQB = bytes.fromhex("50" "00000000" "00000000" "008181")


def damaged(frame: bytes, rng: random.Random) -> bytes:
    pick = rng.randrange(6)
    data = bytearray(frame)
    if pick == 0:
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif pick == 1:
        del data[rng.randrange(len(data))]
    elif pick == 2:
        data.insert(rng.randrange(len(data)), rng.randrange(256))
    elif pick == 3:
        del data[rng.randrange(1, len(data)):]
    elif pick == 4:
        data[rng.randrange(5, len(data))] = rng.randrange(256)
    else:
        return rng.choice((NACK, ERROR_FRAME, START + b"\xff\xff" + rng.randbytes(8)))
    return bytes(data)


# -- the codec -----------------------------------------------------------------------------

def fuzz_codec(size: int, rng: random.Random) -> dict:
    parts, total, planted = [], 0, 0
    while total < size:
        pick = rng.random()
        if pick < 0.45:
            part = rng.randbytes(rng.randrange(1, 64))
        elif pick < 0.55:
            part = START + rng.randbytes(rng.randrange(0, 12))
        elif pick < 0.8:
            part = encode(DEVICE, rng.randbytes(rng.randrange(1, 40)))
            planted += 1
        else:
            part = damaged(encode(DEVICE, rng.randbytes(rng.randrange(1, 40))), rng)
        parts.append(part)
        total += len(part)
    stream = b"".join(parts)
    codec, accepted, offset = FrameReader(), [], 0
    started = time.process_time()
    while offset < len(stream):
        step = rng.randrange(1, 2048)
        accepted += codec.feed(stream[offset:offset + step])
        offset += step
    cpu = time.process_time() - started
    raw = [_encoded(frame) for frame in accepted]
    violations = sum(item not in stream for item in raw)
    return {"run": "codec", "bytes": len(stream), "cpu_s": round(cpu, 2), "planted": planted,
            "accepted": len(accepted), "rejected": codec.rejected_total,
            "violations": violations}


def _encoded(frame) -> bytes:
    if frame.kind == "ack":
        return ACK
    if frame.kind == "nack":
        return NACK
    if frame.kind == "error":
        return ERROR_FRAME
    return encode(frame.tfi, frame.data)


# -- the driver path ------------------------------------------------------------------------

class FuzzPort:
    """A PN532 that answers the driver's commands through a hostile line."""

    def __init__(self, rng: random.Random, budget: int) -> None:
        self.rng, self.budget = rng, budget
        self.clock = 0.0
        self.fed = 0
        self._out = bytearray()
        self._codec = FrameReader()
        self.cards = [("mifare", rng.randbytes(rng.choice((4, 7, 10)))) for _ in range(6)] \
            + [("cnid", rng.randbytes(8)) for _ in range(6)]
        self.card: tuple[str, bytes] | None = None
        self.presented: set[tuple[str, bytes]] = set()
        self._b_state = "idle"

    @property
    def exhausted(self) -> bool:
        return self.fed >= self.budget

    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def now(self) -> float:
        return self.clock

    def read(self, size: int) -> bytes:
        if not self._out:
            self.clock += pn532.READ_TIMEOUT_S      # a read that times out
            return b""
        size = min(size, self.rng.randrange(1, 64))
        chunk = bytes(self._out[:size])
        del self._out[:size]
        return chunk

    def write(self, data: bytes) -> None:
        self.clock += 0.001
        if self.rng.random() < 0.02:
            self._change_card()
        for frame in self._codec.feed(data):
            if frame.kind == "data":
                self._reply(frame.code, frame.data[1:])

    def _change_card(self) -> None:
        self.card = None if self.rng.random() < 0.3 else self.rng.choice(self.cards)
        self._b_state = "idle"
        if self.card:
            self.presented.add(self.card)

    def _reply(self, code: int, params: bytes) -> None:
        rng = self.rng
        noise = rng.randbytes(rng.randrange(0, 24)) if rng.random() < 0.5 else b""
        ack = ACK if rng.random() < 0.9 else damaged(ACK, rng)
        answer = response(code, self._answer(code, params))
        if rng.random() < 0.35:
            answer = damaged(answer, rng)
        tail = rng.randbytes(rng.randrange(0, 24)) if rng.random() < 0.3 else b""
        data = noise + ack + answer + tail
        self._out += data
        self.fed += len(data)

    def _answer(self, code: int, params: bytes) -> bytes:
        kind, number = self.card or (None, b"")
        if code == pn532.GET_FIRMWARE_VERSION:
            return FIRMWARE
        if code == pn532.IN_LIST_PASSIVE_TARGET:
            if kind != "mifare":
                return b"\x00"
            sens = {4: b"\x00\x04", 7: b"\x00\x44", 10: b"\x00\x84"}[len(number)]
            return b"\x01\x01" + sens + b"\x08" + bytes((len(number),)) + number
        if code == pn532.READ_REGISTER:
            return bytes(len(params) // 2)
        if code == pn532.IN_RELEASE:
            return b"\x00"
        if code == pn532.IN_COMMUNICATE_THRU:
            return self._thru(kind, number, params)
        return b""

    def _thru(self, kind, number: bytes, data: bytes) -> bytes:
        if kind != "cnid":
            return b"\x01"
        if data == pn532.REQB:
            self._b_state = "ready"
            return b"\x00" + ATQB
        if data == pn532.ATTRIB_CNID and self._b_state == "ready":
            self._b_state = "active"
            return b"\x00\x08"
        if data == pn532.GET_CARD_NUMBER and self._b_state == "active":
            return b"\x00" + number + pn532.CARD_OK
        return b"\x01"


def fuzz_driver(size: int, rng: random.Random) -> dict:
    port = FuzzPort(rng, size)
    link = pn532.Link(port, now=port.now)
    poller, presence = pn532.CardPoller(link), pn532.Presence()
    taps, bogus, failed, awake = 0, 0, 0, False
    started = time.process_time()
    while not port.exhausted:
        try:
            if not awake:
                poller.wake()
                awake = True
                continue
            card = poller.poll()
        except (pn532.NoAnswer, pn532.Refused, pn532.Malformed):
            presence.unknown()
            failed += 1
            continue
        if presence.saw(card):
            taps += 1
            bogus += card not in port.presented
    cpu = time.process_time() - started
    return {"run": "driver", "bytes": port.fed, "cpu_s": round(cpu, 2),
            "cards_presented": len(port.presented), "taps": taps, "failed_commands": failed,
            "frames_rejected": link.codec.rejected_total + link.unexpected + link.error_frames,
            "bogus_taps": bogus}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object for both runs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    size = int(args.megabytes * 1_000_000)
    results = [fuzz_codec(size, rng), fuzz_driver(size, rng)]
    bad = results[0]["violations"] + results[1]["bogus_taps"]
    if args.json:
        print(json.dumps({"runs": results, "ok": not bad}))
    else:
        for result in results:
            print(json.dumps(result), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
