"""GY-MCU90640 serial protocol (PROTOCOL.md section 6): bytes only, no I/O.

A frame is 1544 bytes, little-endian: `5A 5A 02 06`, 768 int16 pixels in 0.01 degC
(32 per row, row-major, mirrored left-right), the sensor's own temperature Ta, and a
uint16 checksum, the sum of the first 771 16-bit words mod 2^16. The emissivity query is
answered `5A 5A XX sum8`. Commands are `A5 cmd arg sum8`.

The framer never trusts a length it has not verified: a candidate is taken only when its
checksum (and the plausibility of every value) holds, and on any failure exactly one byte
is dropped, so a fake header in garbage or a frame cut short costs nothing but itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drivers.thermal.framing import ResyncFramer

PROTOCOL = "gy-mcu90640"
HEADER = b"\x5a\x5a\x02\x06"
COMMAND_START = 0xA5
ROWS, COLS = 24, 32
PIXELS = ROWS * COLS
FRAME_LEN = 4 + 2 * PIXELS + 2 + 2        # header, pixels, Ta, checksum
_CHECKED_WORDS = (FRAME_LEN - 2) // 2     # 771
EMISSIVITY_LEN = 4
PIXEL_RANGE_C = (-40.0, 300.0)            # MLX90640 datasheet object range
AMBIENT_RANGE_C = (-40.0, 125.0)

CMD_RATE = 0x25             # arg 0..4: 0.5, 1, 2, 4, 8 Hz
CMD_MODE = 0x35             # arg 1 query, 2 continuous
CMD_BAUD = 0x15             # arg 1, 2, 3: 9600, 115200, 460800 (after power cycle)
CMD_EMISSIVITY = 0x45       # arg: emissivity x 100
CMD_QUERY_EMISSIVITY = 0x55
CMD_SAVE = 0x65
MODE_QUERY, MODE_CONTINUOUS = 1, 2
RATES_HZ = (0.5, 1.0, 2.0, 4.0, 8.0)
BAUD_ARGS = {1: 9600, 2: 115200, 3: 460800}

# Face region: a face at screening distance is a blob of skin-warm pixels (raw readings
# of skin through the lens sit a little under body temperature).
SKIN_PIXEL_C = (30.0, 42.5)
MIN_FACE_PIXELS = 12        # fewer: the person is too far for a trustworthy estimate
HOTTEST_PIXELS = 5


def sum8(data: bytes) -> int:
    return sum(data) & 0xFF


def command(code: int, arg: int) -> bytes:
    """`A5 code arg sum8`, e.g. command(CMD_MODE, MODE_CONTINUOUS) == bytes.fromhex("A53502DC")."""
    body = bytes((COMMAND_START, code, arg))
    return body + bytes((sum8(body),))


def word_checksum(data: bytes) -> int:
    return sum(struct.unpack_from(f"<{_CHECKED_WORDS}H", data)) & 0xFFFF


def encode_frame(pixels_c: list[float], ambient_c: float) -> bytes:
    """The frame a sensor sends for these pixels (as seen, i.e. before mirroring)."""
    if len(pixels_c) != PIXELS:
        raise ValueError(f"a frame has {PIXELS} pixels, not {len(pixels_c)}")
    centi = [round(value * 100) for value in [*pixels_c, ambient_c]]
    body = HEADER + struct.pack(f"<{PIXELS + 1}h", *centi)
    return body + struct.pack("<H", word_checksum(body))


def encode_emissivity(value: int) -> bytes:
    body = bytes((0x5A, 0x5A, value))
    return body + bytes((sum8(body),))


@dataclass(frozen=True)
class ArrayFrame:
    pixels: tuple[float, ...]       # degC, row-major, as the sensor sends them (mirrored)
    ambient_c: float

    def image(self) -> list[list[float]]:
        """Rows of the scene as a person facing the sensor would draw it (unmirrored)."""
        return [list(self.pixels[r * COLS:(r + 1) * COLS])[::-1] for r in range(ROWS)]

    @property
    def max_c(self) -> float:
        return max(self.pixels)


@dataclass(frozen=True)
class EmissivityReply:
    emissivity: float


def _decode(candidate: bytes) -> ArrayFrame | None:
    values = struct.unpack_from(f"<{PIXELS + 1}h", candidate, 4)
    pixels = tuple(v / 100 for v in values[:PIXELS])
    ambient = values[PIXELS] / 100
    low, high = PIXEL_RANGE_C
    if not (AMBIENT_RANGE_C[0] <= ambient <= AMBIENT_RANGE_C[1]
            and low <= min(pixels) and max(pixels) <= high):
        return None
    return ArrayFrame(pixels, ambient)


class Framer(ResyncFramer):
    """Cuts verified frames and emissivity replies out of a byte stream, however chunked."""

    def __init__(self) -> None:
        super().__init__()
        self.replies = 0

    def _next(self):
        """A frame or reply, True after dropping bytes (look again), or None (wait)."""
        synced = self._to_sync(HEADER[:2], 4)
        if synced is not False:
            return synced
        buf = self._buf
        if buf[:4] == HEADER:
            return self._frame()
        if sum8(buf[:3]) == buf[3] and 1 <= buf[2] <= 100:
            reply = EmissivityReply(buf[2] / 100)
            del buf[:EMISSIVITY_LEN]
            self.replies += 1
            return reply
        return self._drop(1)

    def _frame(self):
        buf = self._buf
        if len(buf) < FRAME_LEN:
            return None
        candidate = bytes(buf[:FRAME_LEN])
        if word_checksum(candidate) != struct.unpack_from("<H", candidate, FRAME_LEN - 2)[0]:
            self.checksum_failures += 1
            return self._drop(1)
        frame = _decode(candidate)
        if frame is None:
            self.implausible += 1
            return self._drop(1)
        del buf[:FRAME_LEN]
        self.frames += 1
        return frame

    def stats(self) -> dict[str, int]:
        return {**super().stats(), "replies": self.replies}
