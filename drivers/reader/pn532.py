"""An NXP PN532 board on a UART (HSU, 115200 8N1) reading resident cards and ID cards.

Three layers, each testable alone:

- `Link` sends one command frame and waits for its ACK, then for its response (the
  PN532's code is the command's + 1), each with a timeout. A frame the codec refuses, an
  unexpected frame, a NACK or an error frame (7F) is dropped and counted; no ACK or no
  response in time is `NoAnswer`.
- `CardPoller` speaks the commands: the wake-up (0x55s, a long preamble, then
  SAMConfiguration in normal mode), GetFirmwareVersion, RFConfiguration (passive
  activation retried twice, not for ever, so a poll with no card returns), then per poll
  InListPassiveTarget at 106 kbps Type A; and when no Type A card answers, the ID card
  sequence through InCommunicateThru: save the CIU registers it changes, set them for
  ISO 14443 B (framing, CRC, 10 % ASK, the analog settings the PN532 documents for
  Type B), REQB, the ID card's ATTRIB, the APDU `00 36 00 00 08` (8-byte card number and
  90 00), restore the registers. docs/reader.md lists every byte and what real hardware
  must still confirm. A response whose checksums hold but whose content cannot be a
  PN532's (target count, UID size against SENS_RES, stray bytes) is `Malformed`.
- `Presence` turns poll results into taps: a card is tapped once it is seen in two
  polls in a row (a chance-valid corrupted frame is not seen twice), and not again
  until it has been away for two polls; a failed poll says nothing either way.

`Pn532Reader` runs the poller on a supervised thread (runtime.worker), queues taps in a
small queue (oldest dropped, counted), and owns the port: a reader that gives no answer
DEAD_AFTER times in a row is `fault: reader not answering; reopening`; the port is
closed and reopened with backoff (a vanished port too), and the reader woken again.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable

from drivers.base import OK, STARTING, CardReader, CardTap, DriverError, fault
from drivers.reader.pn532_frames import DEVICE, WAKE_UP, Frame, FrameReader, command
from drivers.reader.tapqueue import TapQueue
from drivers.reopen import close_quietly, reopen
from runtime.worker import Backoff, Worker

BAUD = 115200
READ_TIMEOUT_S = 0.02
ACK_TIMEOUT_S = 0.25
RESPONSE_TIMEOUT_S = 0.5
POLL_INTERVAL_S = 0.05
DEAD_AFTER = 3              # commands in a row with no answer: the reader is dead
CONFIRM_POLLS, AWAY_POLLS = 2, 2
REOPEN_FIRST_S, REOPEN_MAX_S = 0.5, 5.0
QUEUE_LEN = 8

# Command codes (PN532 User Manual UM0701-02, section 7).
GET_FIRMWARE_VERSION, READ_REGISTER, WRITE_REGISTER = 0x02, 0x06, 0x08
SAM_CONFIGURATION, RF_CONFIGURATION = 0x14, 0x32
IN_COMMUNICATE_THRU, IN_LIST_PASSIVE_TARGET, IN_RELEASE = 0x42, 0x4A, 0x52

SAM_NORMAL = bytes((0x01, 0x14, 0x01))          # normal mode, timeout 1 s, IRQ used
RF_MAX_RETRIES = bytes((0x05, 0xFF, 0x01, 0x02))   # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
RF_FIELD_OFF, RF_FIELD_ON = bytes((0x01, 0x00)), bytes((0x01, 0x01))
LIST_ONE_TYPE_A = bytes((0x01, 0x00))           # MaxTg 1, BrTy 106 kbps Type A
RELEASE_ALL = bytes((0x00,))
PN532_IC = 0x32

# CIU registers (PN532 data sheet 8.6.23) changed for ISO 14443 B, and their Type B values.
TX_MODE, RX_MODE, TX_AUTO = 0x6302, 0x6303, 0x6305
RX_THRESHOLD, GS_N_ON, MOD_GS_P = 0x6308, 0x6317, 0x6319
TYPE_B_REGISTERS = (TX_MODE, RX_MODE, TX_AUTO, GS_N_ON, MOD_GS_P, RX_THRESHOLD)
FRAMING_14443B_CRC = 0x83       # CRC on, 106 kbit/s, framing 11 = ISO/IEC 14443 B
FORCE_100_ASK = 0x40            # Type A's 100 % ASK; Type B modulates 10 %
TYPE_B_ANALOG = {GS_N_ON: 0xFF, MOD_GS_P: 0x17, RX_THRESHOLD: 0x85}  # RFConfiguration 0x0C defaults

REQB = bytes((0x05, 0x00, 0x00))                # APf, AFI any, one slot
ATTRIB_CNID = bytes((0x1D, 0, 0, 0, 0, 0x00, 0x08, 0x01, 0x08))     # the ID card's ATTRIB
GET_CARD_NUMBER = bytes((0x00, 0x36, 0x00, 0x00, 0x08))
CARD_OK = bytes((0x90, 0x00))
UID_SIZE_BITS = {4: 0, 7: 1, 10: 2}     # SENS_RES bits 7-6 of its low byte: single/double/triple


class NoAnswer(Exception):
    """No ACK or no response came in time."""


class Refused(Exception):
    """The reader answered with an error frame or an unexpected frame."""


class Malformed(Exception):
    """A response with good checksums whose content cannot be the PN532's answer."""


class Link:
    """One command at a time: its frame out, its ACK in, its response in."""

    def __init__(self, port, *, ack_timeout_s: float = ACK_TIMEOUT_S,
                 response_timeout_s: float = RESPONSE_TIMEOUT_S,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.port, self.now = port, now
        self.ack_timeout_s, self.response_timeout_s = ack_timeout_s, response_timeout_s
        self.codec = FrameReader()
        self.unexpected = 0         # whole frames that were not the awaited one
        self.error_frames = 0
        self._frames: deque[Frame] = deque()

    def wake(self) -> None:
        self.port.write(WAKE_UP)

    def call(self, code: int, params: bytes = b"") -> bytes:
        """The response's parameters (after its code)."""
        self._drain()
        self.port.write(command(code, params))
        first = self._next_frame(self.ack_timeout_s)
        if first.kind != "ack":
            self._unexpected(first)
        answer = self._next_frame(self.response_timeout_s)
        while answer.kind == "data" and (answer.tfi != DEVICE or answer.code != code + 1):
            self.unexpected += 1        # a late answer to an earlier command, or an echo
            answer = self._next_frame(self.response_timeout_s)
        if answer.kind != "data":
            self._unexpected(answer)
        return answer.data[1:]

    def _unexpected(self, frame: Frame):
        if frame.kind == "error":
            self.error_frames += 1
        else:
            self.unexpected += 1
        raise Refused(f"{frame.kind} frame")

    def _next_frame(self, timeout: float) -> Frame:
        deadline = self.now() + timeout
        while not self._frames:
            if self.now() > deadline:
                raise NoAnswer()
            self._frames.extend(self.codec.feed(self.port.read(self.port.in_waiting or 1)))
        return self._frames.popleft()

    def _drain(self) -> None:
        """Frames that came after the last command ended belong to no command."""
        waiting = self.port.in_waiting
        if waiting:
            self._frames.extend(self.codec.feed(self.port.read(waiting)))
        self.unexpected += sum(frame.kind != "ack" for frame in self._frames)
        self._frames.clear()


def target_a_uid(params: bytes) -> bytes | None:
    """The UID in an InListPassiveTarget (106 kbps Type A) response; None for no target.

    NbTg, then Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID1, and an ATS only when
    SEL_RES says ISO 14443-4 (its first byte is its length)."""
    if params == b"\x00":
        return None
    if len(params) < 6 or params[0] != 1 or params[1] != 1:
        raise Malformed("target count")
    sens_res, sel_res, size = params[2:4], params[4], params[5]
    uid, rest = params[6:6 + size], params[6 + size:]
    if UID_SIZE_BITS.get(size) != sens_res[1] >> 6 or len(uid) != size:
        raise Malformed("uid size")
    if rest and not (sel_res & 0x20 and rest[0] == len(rest)):
        raise Malformed("trailing bytes")
    return uid


def thru_answer(params: bytes) -> bytes | None:
    """The card's answer in an InCommunicateThru response; None when the card gave none
    (a status error such as 01, time-out)."""
    if not params:
        raise Malformed("no status")
    status = params[0]
    if status & 0x3F:
        return None
    if status:
        raise Malformed("status flags")     # NAD / MI have no place in a raw exchange
    return params[1:]


def _writes(values: dict[int, int]) -> bytes:
    return b"".join(bytes((address >> 8, address & 0xFF, value))
                    for address, value in values.items())


def _expect_empty(params: bytes) -> None:
    if params:
        raise Malformed("unexpected parameters")


class CardPoller:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.firmware: tuple[int, int] | None = None

    def wake(self) -> None:
        self.link.wake()
        _expect_empty(self.link.call(SAM_CONFIGURATION, SAM_NORMAL))
        version = self.link.call(GET_FIRMWARE_VERSION)
        if len(version) != 4 or version[0] != PN532_IC:
            raise Malformed("not a PN532")
        self.firmware = (version[1], version[2])
        _expect_empty(self.link.call(RF_CONFIGURATION, RF_MAX_RETRIES))

    def poll(self) -> tuple[str, bytes] | None:
        """(kind, number) of the card on the reader, or None."""
        uid = target_a_uid(self.link.call(IN_LIST_PASSIVE_TARGET, LIST_ONE_TYPE_A))
        if uid is not None:
            if self.link.call(IN_RELEASE, RELEASE_ALL) != b"\x00":
                raise Malformed("release status")
            return "mifare", uid
        number = self._id_card()
        return ("cnid", number) if number is not None else None

    def _id_card(self) -> bytes | None:
        values = self.link.call(READ_REGISTER, b"".join(
            bytes((address >> 8, address & 0xFF)) for address in TYPE_B_REGISTERS))
        if len(values) != len(TYPE_B_REGISTERS):
            raise Malformed("register count")
        saved = dict(zip(TYPE_B_REGISTERS, values, strict=True))
        type_b = {TX_MODE: FRAMING_14443B_CRC, RX_MODE: FRAMING_14443B_CRC,
                  TX_AUTO: saved[TX_AUTO] & ~FORCE_100_ASK & 0xFF, **TYPE_B_ANALOG}
        _expect_empty(self.link.call(WRITE_REGISTER, _writes(type_b)))
        try:
            number = self._id_card_number()
        finally:
            _expect_empty(self.link.call(WRITE_REGISTER, _writes(saved)))
        if number is not None:
            # A card that answered ATTRIB stays ACTIVE and ignores the next REQB: the
            # field off and on puts it back to IDLE, so the next poll finds it again.
            _expect_empty(self.link.call(RF_CONFIGURATION, RF_FIELD_OFF))
            _expect_empty(self.link.call(RF_CONFIGURATION, RF_FIELD_ON))
        return number

    def _id_card_number(self) -> bytes | None:
        atqb = self._thru(REQB)
        if atqb is None:
            return None
        if len(atqb) not in (12, 13) or atqb[0] != 0x50:
            raise Malformed("ATQB")
        attrib = self._thru(ATTRIB_CNID)
        if not attrib:
            return None
        answer = self._thru(GET_CARD_NUMBER)
        if answer is None:
            return None
        if len(answer) != 10 or answer[8:] != CARD_OK:
            raise Malformed("card number")
        return answer[:8]

    def _thru(self, data: bytes) -> bytes | None:
        return thru_answer(self.link.call(IN_COMMUNICATE_THRU, data))


class Presence:
    """One tap per presentation of a card."""

    def __init__(self, confirm: int = CONFIRM_POLLS, away: int = AWAY_POLLS) -> None:
        self.confirm, self.away = confirm, away
        self.on_reader: tuple[str, bytes] | None = None
        self._candidate: tuple[str, bytes] | None = None
        self._seen = self._misses = 0

    def saw(self, card: tuple[str, bytes] | None) -> bool:
        """A poll's answer; True when it makes a tap."""
        if card is None:
            self._candidate, self._seen = None, 0
            self._misses += 1
            if self._misses >= self.away:
                self.on_reader = None
            return False
        if card == self.on_reader:
            self._misses = 0
            return False
        if card != self._candidate:
            self._candidate, self._seen = card, 0
        self._seen += 1
        if self._seen < self.confirm:
            return False
        self.on_reader, self._candidate, self._seen, self._misses = card, None, 0, 0
        return True

    def unknown(self) -> None:
        """A poll that failed: no card confirmed across it, none taken away by it."""
        self._candidate, self._seen = None, 0


class Pn532Reader(CardReader):
    def __init__(self, port: str, *, clock, poll_interval_s: float = POLL_INTERVAL_S,
                 ack_timeout_s: float = ACK_TIMEOUT_S,
                 response_timeout_s: float = RESPONSE_TIMEOUT_S,
                 dead_after: int = DEAD_AFTER, reopen_first_s: float = REOPEN_FIRST_S) -> None:
        self.port, self.clock = port, clock
        self.poll_interval_s, self.dead_after = poll_interval_s, dead_after
        self._timeouts = (ack_timeout_s, response_timeout_s)
        self._unread = TapQueue(QUEUE_LEN)
        self.reopens = 0
        self.malformed = 0
        self._old_rejected = 0          # of links closed before
        self._fault: str | None = None
        self._firmware: tuple[int, int] | None = None
        self._awake = False
        self._no_answers = 0
        self._presence = Presence()
        self._serial = self._open()
        self._link = self._new_link()
        self._backoff = Backoff(reopen_first_s, REOPEN_MAX_S)
        self._worker = Worker("reader-pn532", self._serve_once)
        self._stop = self._worker.stopping
        self._worker.start()

    def _open(self):
        import serial

        try:
            return serial.serial_for_url(self.port, baudrate=BAUD, bytesize=8, parity="N",
                                         stopbits=1, timeout=READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
            raise DriverError(f"reader: cannot open serial port {self.port}: {reason}") from None

    def _new_link(self) -> Link:
        ack, response = self._timeouts
        return Link(self._serial, ack_timeout_s=ack, response_timeout_s=response)

    def read(self, timeout: float) -> CardTap | None:
        return self._unread.get(timeout)

    @property
    def health(self) -> str:
        if self._stop.is_set():
            return fault("closed")
        if self._fault:
            return self._fault
        return OK if self._awake else STARTING

    @property
    def workers(self) -> tuple:
        return (self._worker,)

    @property
    def firmware(self) -> tuple[int, int] | None:
        """(version, revision) the PN532 reported when last woken."""
        return self._firmware

    def frames_rejected(self) -> int:
        link = self._link
        return (self._old_rejected + link.codec.rejected_total + link.unexpected
                + link.error_frames + self.malformed)

    def counters(self) -> dict[str, int]:
        return {"reader_taps": self._unread.taps, "reader_frames_rejected": self.frames_rejected(),
                "reader_reopens": self.reopens, "reader_taps_dropped": self._unread.dropped}

    def describe(self) -> str:
        return f"pn532 on {self.port} ({self.health})"

    def close(self) -> None:
        self._worker.stop()
        self._close_port()
        self._unread.wake()

    def _serve_once(self) -> None:
        if self._serial is None:
            self._reopen()
            return
        poller = CardPoller(self._link)
        try:
            if not self._awake:
                poller.wake()
                self._awake_now(poller)
            else:
                self._poll(poller)
            self._no_answers = 0
        except NoAnswer:
            self._presence.unknown()
            self._no_answer()
        except (Refused, Malformed) as exc:
            self.malformed += isinstance(exc, Malformed)
            self._presence.unknown()
            self._no_answers = 0        # it answered, if badly
        except OSError:                 # pyserial's SerialException is an OSError
            self._declare(fault("port gone; reopening"))
            return
        self._stop.wait(self.poll_interval_s)

    def _awake_now(self, poller: CardPoller) -> None:
        self._firmware = poller.firmware
        self._awake, self._fault = True, None

    def _poll(self, poller: CardPoller) -> None:
        card = poller.poll()
        if not self._presence.saw(card):
            return
        kind, number = card
        tap = CardTap(kind, number, self.clock.monotonic())
        self._unread.put(tap)

    def _no_answer(self) -> None:
        self._no_answers += 1
        if self._no_answers >= self.dead_after:
            self._declare(fault("reader not answering; reopening"))

    def _declare(self, why: str) -> None:
        self._fault, self._awake, self._no_answers = why, False, 0
        self._close_port()

    def _close_port(self) -> None:
        if self._serial is not None:
            close_quietly(self._serial)
        self._serial = None

    def _reopen(self) -> None:
        self._serial = reopen(self._stop, self._backoff, self._open)
        if self._serial is None:
            return
        self.reopens += 1
        old = self._link
        self._old_rejected += old.codec.rejected_total + old.unexpected + old.error_frames
        self._link = self._new_link()
        self._presence = Presence()     # maybe another reader: the card on it is news
