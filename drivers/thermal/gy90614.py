"""GY-MCU90614 / 90615 serial protocol (PROTOCOL.md section 6): bytes only, no I/O.

Commands are `A5 cmd sum8`; a frame is `5A 5A type len data... sum8`, where sum8 is the
low byte of the sum of every byte before it. The framer resyncs by dropping one byte on
any doubt and never trusts a length beyond MAX_DATA_LEN, so a reading that happens to
contain 0x5A (34.18 degC is 0x0D5A) or a fake header in garbage cannot lock it up.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drivers.base import ThermalReading
from drivers.thermal.framing import ResyncFramer

PROTOCOL = "gy-mcu90614"
HEADER = b"\x5a\x5a"
COMMAND_START = 0xA5

TYPE_TEMPERATURE = 0x45
TYPE_EMISSIVITY = 0x25
TYPE_OFFSET = 0x35
TEMPERATURE_DATA_LEN = 4
MAX_DATA_LEN = 8            # no documented frame carries more; a larger length is garbage
_KNOWN_TYPES = (TYPE_TEMPERATURE, TYPE_EMISSIVITY, TYPE_OFFSET)
# What an MLX90614 can report (datasheet ranges). A frame cut short and followed by the
# next one can pass sum8 by structure, not chance (a 5-byte stub before a frame whose
# object byte is 0x0E, i.e. every body temperature), but then its die temperature
# reads 0x5A45 = 231 degC; the range check turns that into a resync.
OBJECT_RANGE_C = (-70.0, 380.0)
AMBIENT_RANGE_C = (-40.0, 125.0)

CMD_CONTINUOUS = 0x45
CMD_QUERY = 0x15
CMD_AUTOSTART_ON = 0x51
CMD_AUTOSTART_OFF = 0x52
CMD_BAUD_9600 = 0xAE
CMD_BAUD_115200 = 0xAF
KNOWN_COMMANDS = (CMD_CONTINUOUS, CMD_QUERY, CMD_AUTOSTART_ON, CMD_AUTOSTART_OFF,
                  CMD_BAUD_9600, CMD_BAUD_115200)


def sum8(data: bytes) -> int:
    return sum(data) & 0xFF


def command(code: int) -> bytes:
    """`A5 code sum8`, e.g. command(CMD_CONTINUOUS) == bytes.fromhex("A545EA")."""
    body = bytes((COMMAND_START, code))
    return body + bytes((sum8(body),))


def _centi(celsius: float) -> int:
    value = round(celsius * 100)
    if not -32768 <= value <= 32767:
        raise ValueError(f"{celsius} degC does not fit a signed 16-bit 0.01 degC field")
    return value


def encode_frame(object_c: float, ambient_c: float) -> bytes:
    """The 9-byte temperature frame the sensor sends for these readings."""
    body = HEADER + bytes((TYPE_TEMPERATURE, TEMPERATURE_DATA_LEN))
    body += struct.pack(">hh", _centi(object_c), _centi(ambient_c))
    return body + bytes((sum8(body),))


@dataclass(frozen=True)
class GyFrame:
    kind: int           # TYPE_TEMPERATURE, TYPE_EMISSIVITY or TYPE_OFFSET
    data: bytes         # the bytes between the length byte and the checksum

    def temperatures(self) -> tuple[float, float] | None:
        """(object, die) in degC for a temperature frame, else None."""
        if self.kind != TYPE_TEMPERATURE or len(self.data) != TEMPERATURE_DATA_LEN:
            return None
        object_centi, ambient_centi = struct.unpack(">hh", self.data)
        return object_centi / 100, ambient_centi / 100

    def plausible(self) -> bool:
        temps = self.temperatures()
        if temps is None:
            return self.kind != TYPE_TEMPERATURE
        object_c, ambient_c = temps
        return (OBJECT_RANGE_C[0] <= object_c <= OBJECT_RANGE_C[1]
                and AMBIENT_RANGE_C[0] <= ambient_c <= AMBIENT_RANGE_C[1])


def to_reading(frame: GyFrame, t_mono: float, protocol: str = PROTOCOL) -> ThermalReading | None:
    """The reading a temperature frame carries, stamped with `t_mono`; None for others."""
    temps = frame.temperatures()
    if temps is None:
        return None
    return ThermalReading(object_c=temps[0], ambient_c=temps[1], t_mono=t_mono,
                          protocol=protocol)


def _length_plausible(kind: int, data_len: int) -> bool:
    if kind == TYPE_TEMPERATURE:
        return data_len == TEMPERATURE_DATA_LEN
    return kind in _KNOWN_TYPES and 1 <= data_len <= MAX_DATA_LEN


class Framer(ResyncFramer):
    """Cuts verified GY-MCU90614 frames out of a byte stream, whatever the chunking."""

    def _next(self) -> GyFrame | bool | None:
        """A frame, True after dropping bytes (look again), or None (wait for more)."""
        synced = self._to_sync(HEADER, 4)
        if synced is not False:
            return synced
        buf = self._buf
        kind, data_len = buf[2], buf[3]
        if not _length_plausible(kind, data_len):
            return self._drop(1)
        total = data_len + 5
        if len(buf) < total:
            return None
        if sum8(buf[:total - 1]) != buf[total - 1]:
            self.checksum_failures += 1
            return self._drop(1)
        frame = GyFrame(kind, bytes(buf[4:total - 1]))
        if not frame.plausible():
            self.implausible += 1
            return self._drop(1)
        del buf[:total]
        self.frames += 1
        return frame


class CommandParser:
    """Cuts verified `A5 cmd sum8` commands out of a byte stream; garbage is skipped."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[int]:
        self._buf += data
        codes: list[int] = []
        buf = self._buf
        while True:
            start = buf.find(COMMAND_START)
            if start < 0:
                buf.clear()
                return codes
            del buf[:start]
            if len(buf) < 3:
                return codes
            if sum8(buf[:2]) == buf[2]:
                codes.append(buf[1])
                del buf[:3]
            else:
                del buf[:1]
