"""The kernel's input events, read straight from /dev/input/eventN (no library needed).

Each read of an evdev node returns whole `struct input_event`s: on 64-bit Linux a
`struct timeval` (two longs) then type, code (unsigned shorts) and value (int), 24 bytes
(`llHHi`); a 32-bit ARM kernel's timeval is two 32-bit longs, 16 bytes, which native
`struct` sizing follows. A keyboard-wedge reader is a keyboard: it sends EV_KEY events
(value 1 press, 0 release, 2 autorepeat), EV_MSC scan codes, and EV_SYN after each report.

EVIOCGRAB (`_IOW('E', 0x90, int)`) with 1 makes this open file the only receiver of the
device's events, so the digits a reader types never reach the kiosk browser or a console.
"""

from __future__ import annotations

import fcntl
import struct
from dataclasses import dataclass

EVENT = struct.Struct("@llHHi")
EVENT_SIZE = EVENT.size

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
SYN_REPORT = 0
RELEASE, PRESS, REPEAT = 0, 1, 2

# linux/input-event-codes.h: the keys a card reader types. Shift and other modifiers are
# ignored (hex readers differ in whether they shift letters); any other key spoils the line.
KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
_DIGITS = {11: "0", **{code: str(code - 1) for code in range(2, 11)}}   # KEY_1=2..KEY_9=10
_KEYPAD = {82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7",
           72: "8", 73: "9"}
_LETTERS = {30: "A", 48: "B", 46: "C", 32: "D", 18: "E", 33: "F"}
CHARS: dict[int, str] = {**_DIGITS, **_KEYPAD, **_LETTERS}
ENTERS = frozenset((KEY_ENTER, KEY_KPENTER))
MODIFIERS = frozenset((KEY_LEFTSHIFT, KEY_RIGHTSHIFT, 29, 97, 56, 100, 58))  # ctrl, alt, caps
KEY_OF = {char: code for code, char in {**_DIGITS, **_LETTERS}.items()}   # for the simulator


def _iow(kind: str, number: int, size: int) -> int:
    """The ioctl request number the kernel's _IOW macro makes (asm-generic/ioctl.h)."""
    write = 1
    return (write << 30) | (size << 16) | (ord(kind) << 8) | number


EVIOCGRAB = _iow("E", 0x90, struct.calcsize("i"))


@dataclass(frozen=True)
class InputEvent:
    time: float         # the kernel's timestamp (CLOCK_REALTIME unless set otherwise)
    type: int
    code: int
    value: int


def pack(event: InputEvent) -> bytes:
    seconds = int(event.time)
    micros = int(round((event.time - seconds) * 1_000_000))
    return EVENT.pack(seconds, micros, event.type, event.code, event.value)


def unpack(data: bytes) -> tuple[list[InputEvent], bytes]:
    """The whole events in `data` and the bytes of a partial one left over."""
    whole = len(data) - len(data) % EVENT_SIZE
    events = [InputEvent(sec + usec / 1_000_000, kind, code, value)
              for sec, usec, kind, code, value in EVENT.iter_unpack(data[:whole])]
    return events, data[whole:]


def grab(fd: int) -> None:
    """Take the device for this file alone; OSError when the kernel refuses (another
    program holds the grab, or the node is not an input device)."""
    fcntl.ioctl(fd, EVIOCGRAB, 1)


def typed(text: str, t: float, *, enter: bool = True, shift_letters: bool = True,
          step_s: float = 0.004) -> list[InputEvent]:
    """The events a keyboard-wedge reader sends when it types `text` (digits and A-F):
    press, SYN, release, SYN for each key, letters shifted as most hex readers do, then
    Enter. For the simulator and for tests."""
    events: list[InputEvent] = []

    def key(code: int, value: int) -> None:
        nonlocal t
        events.extend((InputEvent(t, EV_KEY, code, value), InputEvent(t, EV_SYN, SYN_REPORT, 0)))
        t += step_s

    for char in text:
        shifted = shift_letters and char.isalpha()
        if shifted:
            key(KEY_LEFTSHIFT, PRESS)
        key(KEY_OF[char.upper()], PRESS)
        key(KEY_OF[char.upper()], RELEASE)
        if shifted:
            key(KEY_LEFTSHIFT, RELEASE)
    if enter:
        key(KEY_ENTER, PRESS)
        key(KEY_ENTER, RELEASE)
    return events
