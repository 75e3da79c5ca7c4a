"""Clocks: wall time for records and display, monotonic for durations; injected everywhere.

Whether the wall clock can be trusted: `SystemClock.synced()` is the kernel's NTP state
(adjtimex, which chrony and systemd-timesyncd both set), cheap enough to ask for every
decision. A Raspberry Pi has no battery-backed clock unless an RTC board is fitted, so
after a power cut without network it starts at the last time it saved: `rtc_device()`
says whether one is there, and `ntp_service()` whether time sync is even enabled.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import subprocess
import time
from pathlib import Path

_TIME_ERROR = 5  # adjtimex() state when the kernel clock is not NTP-synchronised
RTC_PATHS = ("/dev/rtc0", "/dev/rtc", "/sys/class/rtc")
TIMEDATECTL_S = 2.0     # timedatectl asks systemd over D-Bus: bounded, it may hang


@functools.cache
def _libc():
    """libc, found once: find_library runs ldconfig (milliseconds), and synced() is asked
    for every decision and every bundle judged."""
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        """True when the kernel reports the clock as synchronised (adjtimex, as chrony sets it)."""
        try:
            libc = _libc()
            timex = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes = 0, read only
            state = libc.adjtimex(timex)
        except (OSError, AttributeError):
            return False
        return 0 <= state != _TIME_ERROR

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def rtc_device(paths: tuple[str, ...] = RTC_PATHS) -> str | None:
    """The real-time clock keeping time across power cuts, if the kernel has one: a device
    node, or an entry of /sys/class/rtc (a folder with nothing in it is no clock)."""
    for path in map(Path, paths):
        if path.is_dir():
            entry = next(path.iterdir(), None)
            if entry is not None:
                return str(entry)
        elif path.exists():
            return str(path)
    return None


def ntp_service() -> bool | None:
    """Is network time sync enabled (timedatectl's NTP property)? None when it cannot say
    (no systemd, as in a container)."""
    try:
        done = subprocess.run(["timedatectl", "show", "--property=NTP", "--value"],
                              capture_output=True, text=True, timeout=TIMEDATECTL_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    return {"yes": True, "no": False}.get(answer) if done.returncode == 0 else None
