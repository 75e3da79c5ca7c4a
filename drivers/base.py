"""Small interfaces every hardware driver and its simulated twin implement.

Each driver is a context manager with `close()`; drivers are chosen by URL in
`drivers.registry`. Hardware libraries are imported lazily inside the drivers so that
every module imports on a laptop.

Every driver says how it is, in one stable phrase the status message carries:
`"ok"`, `"starting"` (no data yet), or `"fault: <why>"`. A driver that runs threads of
its own lists them in `workers`, so the agent supervises them with its own.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any


class DriverError(Exception):
    """A driver could not be opened or used; the message is meant for the user."""


OK, STARTING = "ok", "starting"


def fault(why: str) -> str:
    """A health phrase for a driver that is not working: keep `why` free of counts and
    times, so the phrase changes only when the state does."""
    return f"fault: {why}"


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
    face_at: tuple[float, float] | None = None   # array sensors: face centroid (row, col)


@dataclass(frozen=True)
class CardTap:
    """A card held to the reader (PROTOCOL.md section 9). `number` is the card's physical
    number: the agent turns it into a keyed token at once (models/cards.py); it is never
    stored, logged or sent, and so never printed: repr leaves it out."""
    kind: str           # "mifare" (ISO 14443 A UID) | "cnid" (ID card, 14443 B) | "hid"
    number: bytes = dataclasses.field(repr=False)   # hid: the digits typed, as ASCII
    t_mono: float = 0.0  # monotonic time the reader saw the card


class _Closable:
    """`with` support for every driver; drivers holding resources override close()."""

    def close(self) -> None:
        pass

    @property
    def health(self) -> str:
        return OK

    @property
    def workers(self) -> tuple:
        """The supervised threads this driver runs (runtime.worker.Worker)."""
        return ()

    def counters(self) -> dict[str, int]:
        """What the driver counted since it opened, for the status message."""
        return {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Camera(_Closable, abc.ABC):
    """A frame source that keeps only the newest frame (drop and count, never queue)."""

    @abc.abstractmethod
    def latest(self, after: int, timeout: float) -> Frame | None:
        """The newest frame with index > `after`, waiting up to `timeout` seconds; None at
        once when the camera has ended."""

    @property
    def dropped(self) -> int:
        return 0

    @property
    def ended(self) -> bool:
        """No frame will come any more (a file played to its end, or the camera closed)."""
        return False

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


class CardReader(_Closable, abc.ABC):
    """A card reader: each card held to it once is one tap (a card left on the reader is
    not tapped again until it has been taken away)."""

    @abc.abstractmethod
    def read(self, timeout: float) -> CardTap | None:
        """The next tap, or None when none came within `timeout`."""


class Gate(_Closable, abc.ABC):
    """A turnstile or door release. A gate only learns it is broken when asked to open:
    the last failure is its health until an opening succeeds."""

    _fault: str | None = None

    def open(self, pulse_s: float | None = None) -> None:
        """Release the turnstile / door for one person; DriverError if it could not."""
        try:
            self._open(pulse_s)
        except Exception as exc:
            self._fault = fault(f"open failed: {type(exc).__name__}")
            raise DriverError(f"gate: {exc}") from exc
        self._fault = None

    @abc.abstractmethod
    def _open(self, pulse_s: float | None) -> None:
        """Drive the hardware (or the simulation) for one opening."""

    @property
    def health(self) -> str:
        return self._fault or OK

    @property
    @abc.abstractmethod
    def state(self) -> str:
        """"open" or "closed"."""
