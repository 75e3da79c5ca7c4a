"""ASCII line bridges (an Arduino printing an MLX90614): one reading per text line.

Accepted lines, whole: `T=36.62`, `Object = 36.62*C`, and the Adafruit example's
`Ambient = 24.71*C<TAB>Object = 36.62*C` (either order). A line has no checksum, so the
grammar is the only check: anything else, a line cut short and run into the next, or a
line longer than MAX_LINE without a newline, is dropped whole. What the grammar cannot
see (a digit flipped into another digit) is left to the screening's median and spread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.base import ThermalReading

PROTOCOL = "ascii"
MAX_LINE = 80
RANGE_C = (-70.0, 380.0)
_NUMBER = r"(-?\d{1,3}\.\d{1,2})"
_UNIT = r"\s*(?:\*C|°C|C)?"
_OBJECT = re.compile(rf"(?:T|TO|Object)\s*=\s*{_NUMBER}{_UNIT}")
_AMBIENT = re.compile(rf"(?:TA|Ambient)\s*=\s*{_NUMBER}{_UNIT}")
_SEPARATOR = re.compile(r"[\t,;]")


@dataclass(frozen=True)
class LineReading:
    object_c: float
    ambient_c: float | None


def parse_line(line: str) -> LineReading | None:
    """The reading a whole line states, or None when the line is not exactly a reading."""
    text = line.strip()
    object_c = ambient_c = None
    for part in _split(text):
        if (match := _OBJECT.fullmatch(part)) and object_c is None:
            object_c = float(match.group(1))
        elif (match := _AMBIENT.fullmatch(part)) and ambient_c is None:
            ambient_c = float(match.group(1))
        else:
            return None
    if object_c is None or not RANGE_C[0] <= object_c <= RANGE_C[1]:
        return None
    return LineReading(object_c, ambient_c)


def _split(text: str) -> list[str]:
    """`Ambient = 24.71*C<TAB>Object = 36.62*C` -> its two `key = value` parts."""
    return [part.strip() for part in _SEPARATOR.split(text)]


class Framer:
    """Cuts whole lines out of a byte stream and keeps those that are readings."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overlong = False          # inside a line that exceeded MAX_LINE
        self.frames = 0
        self.discarded = 0
        self.rejected_lines = 0

    def feed(self, data: bytes) -> list[LineReading]:
        self._buf += data
        readings: list[LineReading] = []
        while (end := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:end + 1])
            del self._buf[:end + 1]
            if self._overlong or end > MAX_LINE:
                self._reject_overlong(line)
                self._overlong = False
                continue
            reading = self._parse(line)
            if reading is not None:
                readings.append(reading)
        if self._buf and (self._overlong or len(self._buf) > MAX_LINE):
            self._reject_overlong(bytes(self._buf))
            self._buf.clear()
            self._overlong = True
        return readings

    def _reject_overlong(self, part: bytes) -> None:
        """Drop part of a line too long to be a reading; the line counts once."""
        if not self._overlong:
            self.rejected_lines += 1
        self.discarded += len(part)

    def _parse(self, line: bytes) -> LineReading | None:
        try:
            reading = parse_line(line.decode("utf-8"))
        except UnicodeDecodeError:
            reading = None
        if reading is None:
            self.rejected_lines += 1
            self.discarded += len(line)
            return None
        self.frames += 1
        return reading

    def flush(self) -> None:
        self.discarded += len(self._buf)
        self._buf.clear()

    def stats(self) -> dict[str, int]:
        return {"frames": self.frames, "discarded_bytes": self.discarded,
                "rejected_lines": self.rejected_lines}


def encode_line(object_c: float, ambient_c: float | None = None) -> bytes:
    if ambient_c is None:
        return f"T={object_c:.2f}\r\n".encode()
    return f"Ambient = {ambient_c:.2f}*C\tObject = {object_c:.2f}*C\r\n".encode()


def to_reading(frame: LineReading, t_mono: float) -> ThermalReading:
    return ThermalReading(object_c=frame.object_c, ambient_c=frame.ambient_c, t_mono=t_mono,
                          protocol=PROTOCOL)
