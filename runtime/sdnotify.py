"""Telling systemd how the service is: the notify protocol (sd_notify(3)), pure Python.

Under a `Type=notify` unit, systemd sets NOTIFY_SOCKET to an AF_UNIX datagram socket (a
path, or an abstract name written with a leading `@`) and reads `KEY=VALUE` lines sent
to it: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1. With `WatchdogSec=` it also sets
WATCHDOG_USEC (and WATCHDOG_PID, the process meant to send the pings). Outside systemd
nothing is set and every call here is a harmless no-op returning False.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping

SEND_TIMEOUT_S = 1.0    # a stuck service manager must not stall the agent's loop for long


def _address(value: str) -> str | bytes:
    """A socket address from NOTIFY_SOCKET: `@name` is Linux's abstract namespace."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `message` (lines of KEY=VALUE) to the service manager; False when there is
    none or it could not be told (never an exception: telling systemd is best effort)."""
    target = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not target or target[0] not in "/@":
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(SEND_TIMEOUT_S)
            sock.sendto(message.encode("utf-8", "replace"), _address(target))
    except OSError:
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds within which systemd wants a WATCHDOG=1, or None when it wants none (no
    WatchdogSec, a malformed value, or the pings are meant for another process)."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None and pid.strip() != str(os.getpid()):
        return None
    return usec / 1e6 if usec > 0 else None


class Notifier:
    """What a long-running process tells systemd: READY=1 once, a STATUS= line when its
    state changes, WATCHDOG=1 at half the watchdog interval (when the caller says it is
    healthy), STOPPING=1 at the end. `environ` is for tests."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ
        interval = watchdog_interval(environ)
        self.every_s = None if interval is None else interval / 2
        self.pings = 0
        self._due = -math.inf

    def _send(self, message: str) -> bool:
        return notify(message, self.environ)

    def ready(self, status: str) -> bool:
        return self._send(f"READY=1\nSTATUS={_line(status)}")

    def status(self, text: str) -> bool:
        return self._send(f"STATUS={_line(text)}")

    def stopping(self) -> bool:
        return self._send("STOPPING=1")

    def due_in(self, now: float) -> float:
        """Seconds until the next ping is due (infinite without a watchdog)."""
        return math.inf if self.every_s is None else max(0.0, self._due - now)

    def ping(self, now: float) -> bool:
        """WATCHDOG=1 if one is due at `now` (monotonic seconds). Call it only while
        healthy: a process that stops pinging is restarted by systemd."""
        if self.every_s is None or now < self._due:
            return False
        self._due = now + self.every_s
        self.pings += 1
        return self._send("WATCHDOG=1")


def _line(text: str) -> str:
    """A STATUS= value: one line, short (systemctl status shows it on one line)."""
    return " ".join(text.split())[:200]
