"""The PN532 host-serial (HSU) frames, and the commands the driver sends in them.

    normal frame  00 00 FF LEN LCS TFI PD0..PDn DCS 00
    ACK           00 00 FF 00 FF 00
    NACK          00 00 FF FF 00 00
    error frame   00 00 FF 01 FF 7F 81 00      (the PN532 could not parse the host's frame)
    extended      00 00 FF FF FF LENM LENL LCS ...   (refused: the driver never needs one)

LEN counts TFI and the data; LEN + LCS = 0 and TFI + sum(data) + DCS = 0 (mod 256). TFI is
D4 from the host, D5 from the PN532 (whose response code is the command code + 1).

`FrameReader` resyncs on the three-byte start `00 00 FF`, never one byte at a time: a
candidate frame is taken only once all of its bytes are there and every check (length
checksum, data checksum, postamble) holds; otherwise the start is dropped, counted by
reason, and the search for the next start goes on from the byte after it. Every decision
depends only on bytes seen, so any split of a stream yields the same frames.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

START = b"\x00\x00\xff"
ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
HOST, DEVICE, ERROR_TFI = 0xD4, 0xD5, 0x7F
MAX_DATA = 254              # LEN is one byte and counts the TFI; 255 marks an extended frame
WAKE_UP = b"\x55\x55" + bytes(14)   # HSU: 0x55s and a long preamble wake it from power-down


@dataclass(frozen=True)
class Frame:
    kind: str           # "ack" | "nack" | "data" | "error"
    tfi: int = 0
    data: bytes = b""   # the command or response code, then its parameters

    @property
    def code(self) -> int | None:
        return self.data[0] if self.data else None


def checksum(data: bytes) -> int:
    """The byte that makes `data` plus it sum to 0 mod 256 (LCS, DCS)."""
    return -sum(data) & 0xFF


def encode(tfi: int, data: bytes) -> bytes:
    """A normal information frame carrying `data` (code first) from `tfi`."""
    if not 1 <= len(data) <= MAX_DATA - 1:
        raise ValueError(f"pn532 frame data of {len(data)} bytes; allowed: 1 to {MAX_DATA - 1}")
    length = len(data) + 1
    body = bytes((tfi,)) + data
    return START + bytes((length, checksum(bytes((length,))))) + body \
        + bytes((checksum(body), 0x00))


def command(code: int, params: bytes = b"") -> bytes:
    """A host command frame."""
    return encode(HOST, bytes((code,)) + params)


def response(code: int, params: bytes = b"") -> bytes:
    """The PN532's answer frame to command `code`."""
    return encode(DEVICE, bytes((code + 1,)) + params)


class FrameReader:
    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0                 # frames handed out (ACKs included)
        self.discarded = 0              # bytes dropped while looking for a start
        self.rejected: Counter[str] = Counter()     # candidate frames refused, by reason

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        found: list[Frame] = []
        while True:
            item = self._next()
            if item is None:
                return found
            if isinstance(item, Frame):
                self.frames += 1
                found.append(item)

    def flush(self) -> None:
        """Forget a partial frame (after a silence, or when the port is reopened)."""
        self.discarded += len(self._buf)
        self._buf.clear()

    def _next(self) -> Frame | bool | None:
        """A frame, True after dropping bytes (look again), or None (wait for bytes)."""
        buf = self._buf
        start = buf.find(START)
        if start < 0:
            keep = 2 if buf.endswith(START[:2]) else 1 if buf.endswith(START[:1]) else 0
            return self._drop(len(buf) - keep) if len(buf) > keep else None
        if start:
            return self._drop(start)
        if len(buf) < 5:
            return None
        length, lcs = buf[3], buf[4]
        if (length, lcs) in ((0x00, 0xFF), (0xFF, 0x00)):
            return self._short("ack" if length == 0 else "nack")
        if (length, lcs) == (0xFF, 0xFF):
            return self._refuse("extended")
        if (length + lcs) & 0xFF:
            return self._refuse("length_checksum")
        if length == 0:
            return self._refuse("empty")
        return self._information(length)

    def _short(self, kind: str) -> Frame | bool | None:
        if len(self._buf) < 6:
            return None
        if self._buf[5] != 0x00:
            return self._refuse("postamble")
        del self._buf[:6]
        return Frame(kind)

    def _information(self, length: int) -> Frame | bool | None:
        total = 5 + length + 2
        if len(self._buf) < total:
            return None
        body = bytes(self._buf[5:5 + length])
        if (sum(body) + self._buf[5 + length]) & 0xFF:
            return self._refuse("data_checksum")
        if self._buf[total - 1] != 0x00:
            return self._refuse("postamble")
        tfi, data = body[0], body[1:]
        if tfi == ERROR_TFI and not data:
            del self._buf[:total]
            return Frame("error", tfi)
        if tfi not in (HOST, DEVICE) or not data:
            return self._refuse("frame_identifier")
        del self._buf[:total]
        return Frame("data", tfi, data)

    def _refuse(self, reason: str) -> bool:
        """Drop the start only: a real frame may begin inside what looked like this one."""
        self.rejected[reason] += 1
        return self._drop(len(START))

    def _drop(self, count: int) -> bool:
        del self._buf[:count]
        self.discarded += count
        return True

    def stats(self) -> dict[str, int]:
        return {"frames": self.frames, "discarded_bytes": self.discarded,
                **{f"rejected_{reason}": n for reason, n in sorted(self.rejected.items())}}
