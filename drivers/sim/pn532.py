"""A simulated NXP PN532 on a real pseudo-terminal, speaking its host-serial frames.

The real driver (pyserial, frame codec, checksums, wake-up, the Type B register set-up)
talks to it as to a PN532 board on a USB serial adapter. The simulator parses the host's
frames with the same codec and answers like the chip: ACK, then the response. It knows
the exact commands the driver is meant to send, written out here byte for byte rather
than taken from the driver, so a change in the driver's bytes that the simulator does not
know is answered with the PN532's error frame (or, for a card exchange, no answer) and
fails the tests. It starts asleep, as a powered-up PN532 does: 0x55s wake it and only
SAMConfiguration is answered until it has had one.

Scriptable: a Type A card (a UID of 4, 7 or 10 bytes), an ID card (its 8-byte number), no
card. Faults: `inject(name)` damages the next response frame, `garbage(data)` sends
bytes, `answering = False` makes a dead reader, and `stop()` closes the pty (unplugged).
"""

from __future__ import annotations

import os
import select
import threading
from collections import Counter, deque

from drivers.base import DriverError
from drivers.reader.pn532_frames import (
    ACK,
    ERROR_FRAME,
    NACK,
    START,
    FrameReader,
    checksum,
    response,
)
from drivers.sim.pty_device import PtyDevice

FAULTS = ("bit_flip", "bad_dcs", "bad_lcs", "wrong_tfi", "truncated", "garbage", "nack",
          "error_frame", "extended", "no_ack")
_TICK_S = 0.05
JOURNAL_LEN = 1000
FIRMWARE = bytes((0x32, 0x01, 0x06, 0x07))      # PN532, v1.6, ISO 14443 A + B + 18092
# Reset values of the CIU registers the driver may touch (simulation only: see
# docs/reader.md for the ones real hardware must confirm).
DEFAULT_REGISTERS = {0x6302: 0x80, 0x6303: 0x80, 0x6305: 0x47, 0x6308: 0x84,
                     0x6317: 0x88, 0x6319: 0x26}
TYPE_B_SETTINGS = {0x6302: 0x83, 0x6303: 0x83, 0x6317: 0xFF, 0x6319: 0x17, 0x6308: 0x85}
ATQB = bytes.fromhex("50" "00000000" "00000000" "008181")
TIMEOUT_STATUS = b"\x01"        # InCommunicateThru: the card did not answer
_SENS_RES = {4: b"\x00\x04", 7: b"\x00\x44", 10: b"\x00\x84"}


class Pn532Simulator(PtyDevice):
    def __init__(self, *, seed: int = 0) -> None:
        self.card: tuple[str, bytes] | None = None
        self.registers = dict(DEFAULT_REGISTERS)
        self.answering = True
        self.asleep, self._woken = True, False
        self._b_state = "idle"          # the ID card: idle -> ready (REQB) -> active (ATTRIB)
        self._faults: deque[str] = deque()
        self._seed = seed
        self.commands: deque[tuple[int, bytes]] = deque(maxlen=JOURNAL_LEN)
        self.unknown: Counter[str] = Counter()  # commands refused, as hex, for the tests
        # The registers as each Type A poll found them: the state between two poll cycles,
        # which a test cannot read from outside without racing the driver's next cycle.
        self.registers_at_poll: deque[dict[int, int]] = deque(maxlen=JOURNAL_LEN)
        self.faults_injected: Counter[str] = Counter()
        self._codec = FrameReader()
        self._lock = threading.Lock()
        super().__init__("pn532-sim")
        self._serve()

    # -- the script ----------------------------------------------------------------------

    def present_card(self, uid: bytes) -> None:
        """A Type A card (ISO 14443 A) with this UID is held to the reader."""
        if len(uid) not in _SENS_RES:
            raise DriverError(f"pn532 simulator: a UID of {len(uid)} bytes; allowed: 4, 7, 10")
        with self._lock:
            self.card, self._b_state = ("mifare", bytes(uid)), "idle"

    def present_id_card(self, number: bytes) -> None:
        """An ID card (ISO 14443 B) with this 8-byte physical number is held to it."""
        if len(number) != 8:
            raise DriverError(f"pn532 simulator: an ID card number of {len(number)} bytes; "
                              "allowed: 8")
        with self._lock:
            self.card, self._b_state = ("cnid", bytes(number)), "idle"

    def remove(self) -> None:
        with self._lock:
            self.card, self._b_state = None, "idle"

    def inject(self, fault: str) -> None:
        """Damage the next response frame this way."""
        if fault not in FAULTS:
            raise DriverError(f"pn532 simulator: fault {fault!r}; allowed: {', '.join(FAULTS)}")
        self._faults.append(fault)

    def garbage(self, data: bytes) -> None:
        self._write(data)

    # -- the chip ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], _TICK_S)
            if not ready:
                continue
            try:
                data = os.read(self._master, 512)
            except (BlockingIOError, OSError):
                continue
            if not self.answering:
                continue
            if self.asleep and 0x55 in data:
                self._woken = True
            for frame in self._codec.feed(data):
                if frame.kind == "data" and frame.tfi == 0xD4:
                    self._command(frame.code, frame.data[1:])

    def _command(self, code: int, params: bytes) -> None:
        if self.asleep and not (self._woken and code == 0x14):
            return              # in power-down nothing but the wake-up is heard
        self.commands.append((code, params))
        with self._lock:
            answer = self._answer(code, params)
        if answer is None:
            self.unknown[bytes((code,)).hex() + params.hex()] += 1
            self._write(ERROR_FRAME)
            return
        if code == 0x14:
            self.asleep = False
        fault = self._faults.popleft() if self._faults else None
        if fault:
            self.faults_injected[fault] += 1
        self._write(b"" if fault == "no_ack" else ACK)
        self._write(self._damaged(response(code, answer), fault))

    def _answer(self, code: int, params: bytes) -> bytes | None:
        """The response parameters to an exact command, or None for one it does not know."""
        if code == 0x14:
            return b"" if params == bytes.fromhex("011401") else None
        if code == 0x02:
            return FIRMWARE if params == b"" else None
        if code == 0x32:
            return self._rf_configuration(params)
        if code == 0x4A:
            return self._list_passive(params)
        if code == 0x06:
            return self._read_registers(params)
        if code == 0x08:
            return self._write_registers(params)
        if code == 0x42:
            return self._thru(params)
        if code == 0x52:
            return b"\x00" if params == b"\x00" else None
        return None

    def _rf_configuration(self, params: bytes) -> bytes | None:
        if params in (bytes.fromhex("0100"), bytes.fromhex("0101")):
            self._b_state = "idle"      # the field off and on resets every card
            return b""
        return b"" if params == bytes.fromhex("05ff0102") else None

    def _list_passive(self, params: bytes) -> bytes | None:
        kind, number = self.card or (None, b"")
        if params == bytes.fromhex("0100"):
            self.registers_at_poll.append(dict(self.registers))
            if kind != "mifare":
                return b"\x00"
            sel_res = b"\x08" if len(number) == 4 else b"\x00"
            return b"\x01\x01" + _SENS_RES[len(number)] + sel_res + bytes((len(number),)) + number
        if params == bytes.fromhex("010300"):
            return b"\x01\x01" + ATQB + b"\x01\x08" if kind == "cnid" else b"\x00"
        return None

    def _read_registers(self, params: bytes) -> bytes | None:
        addresses = [int.from_bytes(params[i:i + 2], "big") for i in range(0, len(params), 2)]
        if not params or len(params) % 2 or any(a not in self.registers for a in addresses):
            return None
        return bytes(self.registers[a] for a in addresses)

    def _write_registers(self, params: bytes) -> bytes | None:
        writes = [(int.from_bytes(params[i:i + 2], "big"), params[i + 2])
                  for i in range(0, len(params), 3)]
        if not params or len(params) % 3 or any(a not in self.registers for a, _ in writes):
            return None
        self.registers.update(writes)
        return b""

    def _type_b_ready(self) -> bool:
        regs = self.registers
        return (all(regs[a] == v for a, v in TYPE_B_SETTINGS.items())
                and not regs[0x6305] & 0x40)

    def _thru(self, data: bytes) -> bytes:
        """An InCommunicateThru: what the ID card answers, if anything, after status 00."""
        kind, number = self.card or (None, b"")
        if kind != "cnid" or not self._type_b_ready():
            return TIMEOUT_STATUS
        if data == bytes.fromhex("050000") and self._b_state == "idle":
            self._b_state = "ready"
            return b"\x00" + ATQB
        if data == bytes.fromhex("1d000000000008" "0108") and self._b_state == "ready":
            self._b_state = "active"
            return b"\x00\x08"
        if data == bytes.fromhex("0036000008") and self._b_state == "active":
            return b"\x00" + number + b"\x90\x00"
        return TIMEOUT_STATUS

    def _damaged(self, frame: bytes, fault: str | None) -> bytes:
        if fault == "bit_flip":             # a data byte changed, the checksum left as sent
            where = len(frame) - 3
            return frame[:where] + bytes((frame[where] ^ 0x01,)) + frame[where + 1:]
        if fault == "bad_dcs":
            return frame[:-2] + bytes(((frame[-2] + 1) & 0xFF,)) + frame[-1:]
        if fault == "bad_lcs":
            return frame[:4] + bytes(((frame[4] + 1) & 0xFF,)) + frame[5:]
        if fault == "wrong_tfi":            # checksums made good around a foreign TFI
            body = b"\xd6" + frame[6:-2]
            return frame[:5] + body + bytes((checksum(body), 0))
        if fault == "truncated":
            return frame[:len(frame) // 2]
        if fault == "garbage":
            return bytes((0x55, 0xAA)) + START + b"\x05\xfb\xd5" + START + frame
        if fault == "nack":
            return NACK
        if fault == "error_frame":
            return ERROR_FRAME
        if fault == "extended":
            return START + b"\xff\xff\x00\x10\xf0" + bytes(16) + frame
        return frame

    def _write(self, data: bytes) -> None:
        if not data or self._stop.is_set():
            return
        try:
            os.write(self._master, data)
        except (BlockingIOError, OSError):
            pass
