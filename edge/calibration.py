"""Calibration against a reference blackbody: readings in, a per-unit offset out.

The offset is what must be added to the sensor's raw object temperature so that it reads
the reference. It is written into the config file's `[thermal] offset_c`, changing that
one line (or adding it) and leaving every other byte of the file as it was: comments are
the documentation of a device's config.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

MIN_READINGS = 5
MAX_SPREAD_C = 0.3          # a blackbody is steady: more means the aim or the source moved
OFFSET_RANGE_C = (-5.0, 5.0)  # what `[thermal] offset_c` accepts

_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]\s*(?:#.*)?$")
_OFFSET = re.compile(r"^(\s*offset_c\s*=\s*)([^#\n]*?)(\s*(?:#.*)?)$")


class CalibrationError(ValueError):
    """The readings cannot give a trustworthy offset; the message says why."""


@dataclass(frozen=True)
class Calibration:
    reference_c: float
    measured_c: float           # median raw reading
    spread_c: float             # p90 - p10 of the raw readings
    readings: int

    @property
    def offset_c(self) -> float:
        return round(self.reference_c - self.measured_c, 2)


def calibrate(raw_readings: list[float], reference_c: float) -> Calibration:
    if len(raw_readings) < MIN_READINGS:
        raise CalibrationError(f"only {len(raw_readings)} readings; need {MIN_READINGS}")
    ordered = sorted(raw_readings)
    trim = len(ordered) // 10
    spread = ordered[-1 - trim] - ordered[trim]
    if spread > MAX_SPREAD_C:
        raise CalibrationError(f"readings spread {spread:.2f} degC (more than "
                               f"{MAX_SPREAD_C}); aim the sensor at the blackbody and hold it")
    result = Calibration(reference_c, round(statistics.median(ordered), 2), round(spread, 2),
                         len(ordered))
    low, high = OFFSET_RANGE_C
    if not low <= result.offset_c <= high:
        raise CalibrationError(f"offset {result.offset_c:+.2f} degC is outside {low}..{high}: "
                               "is the sensor aimed at the blackbody, at the right distance?")
    return result


def with_offset(text: str, offset_c: float) -> str:
    """The config text with `[thermal] offset_c` set to `offset_c`, all else unchanged."""
    lines = text.splitlines(keepends=True)
    table, last_key = None, None
    for index, line in enumerate(lines):
        if header := _TABLE.match(line):
            if table == "thermal":
                break
            table = header.group(1).strip()
            last_key = index if table == "thermal" else None
            continue
        if table != "thermal":
            continue
        if match := _OFFSET.match(line.rstrip("\r\n")):
            ending = line[len(line.rstrip("\r\n")):]
            lines[index] = f"{match.group(1)}{offset_c}{match.group(3)}{ending}"
            return "".join(lines)
        if line.strip() and not line.lstrip().startswith("#"):
            last_key = index
    if last_key is None:
        separator = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{separator}\n[thermal]\noffset_c = {offset_c}\n"
    lines.insert(last_key + 1, f"offset_c = {offset_c}\n")
    return "".join(lines)
