"""Which serial ports there are, and which sensor answers on one: protocol, baud, a reading.

For `checkpoint provision` (offering ports and what it finds on them) and `checkpoint
doctor` (is the configured sensor the one on the wire). Detection is a one-shot probe,
not the agent's long-lived reader: each (protocol, baud) pair gets the same listening
time the driver's own baud=auto gives a speed (serial_sensor: a frame in flight, then two
whole ones), and the first pair that delivers two verified frames wins. Only the stream
command of each protocol is ever sent, never a baud or save command, so probing cannot
change how a unit is configured.

GY-MCU90614 and GY-MCU90615 speak the same frames: the name reported is the one whose
usual baud is the rate found, and either drives the unit the same way.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.base import DriverError
from drivers.thermal.protocols import PROTOCOLS, Protocol
from drivers.thermal.serial_sensor import LOCK_AFTER_FRAMES, READ_TIMEOUT_S, baud_order

BOARD_UARTS = ("/dev/serial0", "/dev/ttyAMA0")  # the Pi's own UART, which comports() misses
# A unit's frame interval jitters (10-14 frames/s): two frames may take longer than two
# nominal periods, so no speed is given less than this.
MIN_LISTEN_S = 0.5


@dataclass(frozen=True)
class Detected:
    protocol: str
    baud: int
    reading_c: float | None     # object temperature of the last verified frame


def list_serial_ports() -> list[str]:
    """Serial ports on this machine: USB adapters and the like, then the Pi's UART."""
    from serial.tools import list_ports

    found = [port.device for port in list_ports.comports()]
    return found + [path for path in BOARD_UARTS if Path(path).exists() and path not in found]


def attempts(prefer: str | None = None, baud: int | None = None) -> list[tuple[str, int]]:
    """(protocol, baud) pairs in the order tried: `prefer` (at `baud` first) before the
    rest; then each protocol's most common rate before the less common ones. Protocols
    speaking the same frames share their tries."""
    order = [PROTOCOLS[prefer]] if prefer else []
    order += [p for p in PROTOCOLS.values() if p.name != prefer]
    rates = [baud_order(baud if p.name == prefer else None, p.bauds) for p in order]
    pairs, seen = [], set()
    for rank in range(max(map(len, rates))):
        for protocol, bauds in zip(order, rates, strict=True):
            if rank < len(bauds) and (_wire(protocol), bauds[rank]) not in seen:
                seen.add((_wire(protocol), bauds[rank]))
                pairs.append((protocol.name, bauds[rank]))
    return pairs


def same_wire(a: str, b: str) -> bool:
    """Do protocols `a` and `b` speak the same bytes (90614 and 90615 do)?"""
    return _wire(PROTOCOLS[a]) == _wire(PROTOCOLS[b])


def _wire(protocol: Protocol) -> tuple:
    return protocol.new_framer, protocol.stream_command


def detect_sensor(port_url: str, timeout_s: float = 3.0, *, prefer: str | None = None,
                  baud: int | None = None) -> Detected:
    """The sensor answering on `port_url` (a device path or a pyserial URL), trying each
    protocol at each of its usual rates within `timeout_s` in all; `prefer` and `baud`
    (the configured ones) are tried first. DriverError when the port cannot be opened
    or nothing answered."""
    import serial

    deadline = time.monotonic() + timeout_s
    try:
        line = serial.serial_for_url(port_url, timeout=READ_TIMEOUT_S)
    except (serial.SerialException, OSError, ValueError) as exc:
        reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
        raise DriverError(f"cannot open serial port {port_url}: {reason}") from None
    tried: list[str] = []
    try:
        for name, rate in attempts(prefer, baud):
            if time.monotonic() >= deadline:
                break
            tried.append(f"{name}@{rate}")
            answered, reading_c = _listen(line, PROTOCOLS[name], rate, deadline)
            if answered:
                return Detected(_named(name, rate), rate, reading_c)
    except OSError as exc:      # pyserial's SerialException is one: the port went away
        raise DriverError(f"serial port {port_url} failed while probing: {exc}") from None
    finally:
        line.close()
    untried = len(attempts(prefer, baud)) - len(tried)
    more = f" ({untried} more not tried within {timeout_s:g} s)" if untried else ""
    raise DriverError(f"no sensor answered on {port_url}: tried {', '.join(tried)}{more}")


def _listen(line, protocol: Protocol, baud: int,
            deadline: float) -> tuple[bool, float | None]:
    """Whether two verified frames came at `baud`, and the last one's object temperature
    (None from an array sensor that saw no face)."""
    line.baudrate = baud
    line.reset_input_buffer()       # bytes of the previous speed are noise at this one
    if protocol.stream_command:
        line.write(protocol.stream_command)
    framer = protocol.new_framer()
    listen_s = max(MIN_LISTEN_S, 3 * protocol.frame_time_s(baud) + 2 * protocol.frame_period_s)
    until = min(deadline, time.monotonic() + listen_s)
    frames = 0
    reading_c = None
    while time.monotonic() < until:
        data = line.read(line.in_waiting or 1)
        for frame in framer.feed(data) if data else ():
            reading = protocol.to_reading(frame, time.monotonic())
            frames += 1
            reading_c = reading.object_c if reading is not None else reading_c
        if frames >= LOCK_AFTER_FRAMES:
            return True, reading_c
    return False, None


def _named(name: str, baud: int) -> str:
    """Among the protocols on the same wire as `name`, the one usually shipped at `baud`."""
    for protocol in PROTOCOLS.values():
        if same_wire(protocol.name, name) and protocol.bauds[0] == baud:
            return protocol.name
    return name
