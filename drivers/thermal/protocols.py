"""The serial thermal protocols the driver speaks, each described by what the driver needs.

A protocol is a framer (bytes in, verified frames out), a decoder (frame to reading), the
command that asks for a continuous stream (none for a bridge that always streams), the
line speeds its units usually ship with, and its frame timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from drivers.base import DriverError, ThermalReading
from drivers.thermal import ascii_bridge, face, gy90614, gy90640


@dataclass(frozen=True)
class Protocol:
    name: str
    new_framer: Callable[[], object]
    to_reading: Callable[[object, float], ThermalReading | None]
    stream_command: bytes           # b"": the device streams on its own
    bauds: tuple[int, ...]          # usual rates, the most common first
    frame_period_s: float           # nominal, until the driver has measured it
    max_frame_bytes: int

    def frame_time_s(self, baud: int) -> float:
        """How long the longest frame takes on the wire at `baud` (8N1: 10 bits a byte)."""
        return self.max_frame_bytes * 10 / baud


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol(gy90614.PROTOCOL, gy90614.Framer, gy90614.to_reading,
             gy90614.command(gy90614.CMD_CONTINUOUS), (9600, 115200), 1 / 12, 13),
    Protocol("gy-mcu90615", gy90614.Framer, partial(gy90614.to_reading, protocol="gy-mcu90615"),
             gy90614.command(gy90614.CMD_CONTINUOUS), (115200, 9600), 1 / 12, 13),
    Protocol(gy90640.PROTOCOL, gy90640.Framer, face.to_reading,
             gy90640.command(gy90640.CMD_MODE, gy90640.MODE_CONTINUOUS),
             (115200, 460800, 9600), 1 / 4, gy90640.FRAME_LEN),
    Protocol(ascii_bridge.PROTOCOL, ascii_bridge.Framer, ascii_bridge.to_reading, b"",
             (9600, 115200, 57600, 38400, 19200), 1 / 10, ascii_bridge.MAX_LINE),
)}


def protocol_named(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise DriverError(f"thermal: protocol {name!r} is not supported; "
                          f"allowed: {', '.join(PROTOCOLS)}") from None
