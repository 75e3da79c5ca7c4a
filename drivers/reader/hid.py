"""USB keyboard-wedge card readers: `hid:///dev/input/by-id/NAME?format=dec10`.

Such a reader is a keyboard that types the card's number and Enter. Reading it as a
keyboard would let the digits land in whatever has the focus (the kiosk browser), so the
driver reads the kernel's input events from the evdev node itself and grabs the device
exclusively (EVIOCGRAB); a grab the kernel refuses is a DriverError naming the device. A
FIFO (the simulated input-event source, drivers/sim/input_events.py) is read the same way,
without the grab, which only an input device has.

What a reader types, by `format`, and the number bytes its token is made of (PROTOCOL
section 9: for `hid`, the digits as ASCII):

    dec10         exactly 10 decimal digits          -> the 10 digits, e.g. b"0012345678"
    hex           8 to 20 hex digits, an even count  -> the digits in upper case
    hex_reversed  the same, bytes last-to-first      -> the byte pairs put back in the card's
                                                        order, upper case
so a card gives one token whether a `hex` or a `hex_reversed` reader typed it, and
whether the reader shifted its letters or not. Lines that fit no format are dropped and
counted, as are lines of 64 characters or more, lines with an autorepeat in them (a key
held down: no reader types like that), lines with any other key, and a partial line the
reader stopped typing for LINE_GAP_S.

A node that goes away (USB unplug: read fails with ENODEV; a FIFO's writer gone) is a
fault, and the node is reopened with backoff until it is back, as the serial thermal
sensor's port is.
"""

from __future__ import annotations

import errno
import os
import select
import stat
import time

from drivers.base import OK, CardReader, CardTap, DriverError, fault
from drivers.reader import evdev
from drivers.reader.tapqueue import TapQueue
from drivers.reopen import reopen
from drivers.urls import DriverUrl, Option, choice
from runtime.worker import Backoff, Worker

FORMATS = ("dec10", "hex", "hex_reversed")
MAX_LINE = 63               # characters: a line reaching 64 is no card number
LINE_GAP_S = 0.5            # readers type a whole number in tens of milliseconds
POLL_S = 0.05
READ_EVENTS = 64            # events per read: bounds one round's work
QUEUE_LEN = 16
REOPEN_FIRST_S, REOPEN_MAX_S = 0.5, 5.0

URL_OPTIONS = {"hid": {"format": Option(choice(*FORMATS), "dec10")}}


def number_of(line: str, form: str) -> bytes | None:
    """The number bytes of a typed line in format `form`, or None when it is not one."""
    if form == "dec10":
        ok = len(line) == 10 and all(c in "0123456789" for c in line)
        return line.encode("ascii") if ok else None
    hexed = line.upper()
    if not (8 <= len(hexed) <= 20 and len(hexed) % 2 == 0
            and all(c in "0123456789ABCDEF" for c in hexed)):
        return None
    if form == "hex_reversed":
        hexed = "".join(reversed([hexed[i:i + 2] for i in range(0, len(hexed), 2)]))
    return hexed.encode("ascii")


class LineDecoder:
    """Key events -> typed lines. Pure: fed events, it returns the lines Enter ended."""

    def __init__(self) -> None:
        self._chars: list[str] = []
        self._spoiled: str | None = None    # why the line in progress will be dropped
        self._last_key: float | None = None
        self.lines = 0
        self.dropped: dict[str, int] = {"too_long": 0, "repeat": 0, "other_key": 0,
                                        "partial": 0}

    @property
    def typing(self) -> bool:
        """A line has begun and not ended."""
        return bool(self._chars) or self._spoiled is not None

    def feed(self, events: list[evdev.InputEvent]) -> list[str]:
        lines = []
        for event in events:
            if event.type != evdev.EV_KEY or event.value == evdev.RELEASE:
                continue    # SYN, scan codes, releases: the presses carry the line
            if (self.typing and self._last_key is not None
                    and event.time - self._last_key > LINE_GAP_S):
                self.flush()
            self._last_key = event.time
            line = self._key(event)
            if line is not None:
                lines.append(line)
        return lines

    def flush(self) -> None:
        """Drop a line the reader stopped typing (counted)."""
        if self.typing:
            self.dropped["partial"] += 1
        self._chars, self._spoiled = [], None

    def _key(self, event: evdev.InputEvent) -> str | None:
        if event.code in evdev.ENTERS:
            if event.value != evdev.PRESS:
                return None
            line, spoiled = "".join(self._chars), self._spoiled
            self._chars, self._spoiled = [], None
            if spoiled:
                self.dropped[spoiled] += 1
                return None
            if line:
                self.lines += 1
                return line
            return None
        if event.code in evdev.MODIFIERS:
            return None
        if event.value == evdev.REPEAT:
            self._spoiled = self._spoiled or "repeat"
        elif event.code not in evdev.CHARS:
            self._spoiled = self._spoiled or "other_key"
        elif len(self._chars) >= MAX_LINE:
            self._spoiled = self._spoiled or "too_long"
        else:
            self._chars.append(evdev.CHARS[event.code])
        return None


class HidReader(CardReader):
    def __init__(self, path: str, *, form: str = "dec10", clock) -> None:
        self.path, self.form, self.clock = path, form, clock
        self._decoder = LineDecoder()
        self._rest = b""
        self._line_seen: float | None = None    # clock time the line's first key came
        self._last_byte = time.monotonic()
        self._unread = TapQueue(QUEUE_LEN)
        self.not_numbers = self.reopens = 0
        self._fd: int | None = self._open()
        self._backoff = Backoff(REOPEN_FIRST_S, REOPEN_MAX_S)
        self._worker = Worker("card-hid", self._serve_once)
        self._stop = self._worker.stopping
        self._worker.start()

    def _open(self) -> int:
        """The node opened for reading; a real input device grabbed. DriverError naming it."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            hint = " (is this user in the `input` group?)" if exc.errno == errno.EACCES else ""
            raise DriverError(f"reader: cannot open {self.path}: {exc.strerror}{hint}") from None
        try:
            if stat.S_ISCHR(os.fstat(fd).st_mode):
                evdev.grab(fd)
        except OSError as exc:
            os.close(fd)
            raise DriverError(f"reader: cannot grab {self.path} exclusively: {exc.strerror} "
                              "(not an input device, or another program holds it)") from None
        return fd

    def read(self, timeout: float) -> CardTap | None:
        return self._unread.get(timeout)

    @property
    def health(self) -> str:
        if self._stop.is_set():
            return fault("closed")
        return OK if self._fd is not None else fault("device gone; reopening")

    @property
    def workers(self) -> tuple:
        return (self._worker,)

    def counters(self) -> dict[str, int]:
        return {"reader_taps": self._unread.taps,
                "reader_lines_dropped": sum(self._decoder.dropped.values()) + self.not_numbers,
                "reader_taps_dropped": self._unread.dropped, "reader_reopens": self.reopens}

    def stats(self) -> dict:
        return {"path": self.path, "format": self.form, "health": self.health,
                "not_numbers": self.not_numbers, **self._decoder.dropped,
                **self.counters()}

    def close(self) -> None:
        self._worker.stop()
        self._lost()
        self._unread.wake()

    def _serve_once(self) -> None:
        """One round: wait briefly for events, decode them, drop a line left unfinished."""
        fd = self._fd
        if fd is None:
            self._reopen()
            return
        try:
            ready, _, _ = select.select([fd], [], [], POLL_S)
            data = os.read(fd, READ_EVENTS * evdev.EVENT_SIZE) if ready else None
        except (OSError, ValueError):   # ENODEV when unplugged; a closed fd when closing
            self._lost()
            return
        if data == b"":                 # a FIFO whose writer is gone: the device is
            self._lost()                # unplugged as far as we can tell
            return
        now = time.monotonic()
        if data:
            self._last_byte = now
            self._take(data)
        elif self._decoder.typing and now - self._last_byte > LINE_GAP_S:
            self._decoder.flush()
            self._line_seen = None

    def _take(self, data: bytes) -> None:
        events, self._rest = evdev.unpack(self._rest + data)
        if self._line_seen is None and not self._decoder.typing:
            self._line_seen = self.clock.monotonic()
        seen = self._line_seen
        lines = self._decoder.feed(events)
        if not self._decoder.typing:
            self._line_seen = None
        for line in lines:
            number = number_of(line, self.form)
            if number is None:
                self.not_numbers += 1
                continue
            self._unread.put(CardTap("hid", number, seen if seen is not None else
                                     self.clock.monotonic()))
            seen = None

    def _lost(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)    # closing also ends the grab
            except OSError:
                pass
        self._rest = b""
        self._decoder.flush()

    def _reopen(self) -> None:
        self._fd = reopen(self._stop, self._backoff, self._open)
        if self._fd is not None:
            self.reopens += 1


def from_url(spec: DriverUrl, *, clock, **_) -> HidReader:
    """For `hid:///dev/input/by-id/usb-...-event-kbd?format=dec10`."""
    if not spec.target.startswith("/"):
        raise DriverError("reader url: hid needs the device path, e.g. "
                          "hid:///dev/input/by-id/usb-READER-event-kbd")
    return HidReader(spec.target, form=spec.options["format"], clock=clock)
