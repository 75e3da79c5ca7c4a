"""Getting a serial or input device back after it went away (unplugged, reset, a USB
hub's brown-out), the same way in every driver that owns one.

A driver's worker thread calls `reopen` until it returns the port: each try waits the
backoff's next pause first (so a device that is gone costs a try every few seconds, not a
busy loop), and a stop requested meanwhile ends the wait at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from drivers.base import DriverError
from runtime.worker import Backoff

Port = TypeVar("Port")


def reopen(stop: threading.Event, backoff: Backoff,
           open_port: Callable[[], Port]) -> Port | None:
    """What `open_port` opens once the backoff's pause has passed; None when a stop came
    meanwhile or the device is not there yet (DriverError), after which the next pause is
    longer. A success resets the backoff for the next time the device goes."""
    if stop.wait(backoff.next()):
        return None
    try:
        port = open_port()
    except DriverError:
        return None
    backoff.reset()
    return port


def close_quietly(port) -> None:
    """Close a port that may be gone already: pyserial raises an OSError closing an
    adapter that was unplugged, and there is nothing left to do about it."""
    try:
        port.close()
    except OSError:
        pass
