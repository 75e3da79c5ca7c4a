"""Bounded waits for conditions other threads or processes change.

Used where no event can be subscribed to (a row count in another process's database, a
sensor state behind a driver thread): the condition is polled briefly until it holds or
the deadline passes, never slept on for a fixed time.
"""

from __future__ import annotations

import time


def wait_until(condition, timeout: float = 3.0) -> bool:
    """True as soon as `condition()` holds; False once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Like wait_until, but a timeout fails the test naming what was awaited."""
    if not wait_until(condition, timeout):
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
