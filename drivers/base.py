"""Small interfaces every hardware driver and its simulated twin implement.

Each driver is a context manager with `close()`; drivers are chosen by URL in
`drivers.registry`. Hardware libraries are imported lazily inside the drivers so that
every module imports on a laptop.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any


class DriverError(Exception):
    """A driver could not be opened or used; the message is meant for the user."""


@dataclass(frozen=True)
class Frame:
    image: Any          # numpy array, BGR or grayscale
    index: int          # frames captured so far, counting dropped ones
    t_mono: float       # monotonic capture time


@dataclass(frozen=True)
class ThermalReading:
    object_c: float     # object (skin) temperature as the sensor reports it
    ambient_c: float | None
    t_mono: float       # monotonic time the frame was completed
    protocol: str
    max_c: float | None = None   # array sensors: hottest pixel


class _Closable:
    """`with` support for every driver; drivers holding resources override close()."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Camera(_Closable, abc.ABC):
    """A frame source that keeps only the newest frame (drop and count, never queue)."""

    @abc.abstractmethod
    def latest(self, after: int, timeout: float) -> Frame | None:
        """The newest frame with index > `after`, waiting up to `timeout` seconds."""

    @property
    def dropped(self) -> int:
        return 0

    def describe(self) -> str:
        return type(self).__name__


class QrDecoder(abc.ABC):
    @abc.abstractmethod
    def decode(self, image: Any) -> list[str]:
        """Every QR text found in the image (BGR or grayscale numpy array)."""


class ThermalSensor(_Closable, abc.ABC):
    @abc.abstractmethod
    def read(self, timeout: float) -> ThermalReading | None:
        """The next verified reading, or None when none arrived within `timeout`."""


class Gate(_Closable, abc.ABC):
    @abc.abstractmethod
    def open(self, pulse_s: float | None = None) -> None:
        """Release the turnstile / door for one person."""

    @property
    @abc.abstractmethod
    def state(self) -> str:
        """"open" or "closed"."""
