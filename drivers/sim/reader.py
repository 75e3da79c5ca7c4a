"""`sim://` as a card reader: the simulated people's taps, or a fixed demo card.

    sim://                          with the agent's scene: each person's `card`, `tap_s`
                                    after they step up; without one: the demo card every 5 s
    sim://?every=2&card=cnid:0102030405060708     the fixed card, every 2 s
    sim://?via=hid                  the same taps typed (hex) into a simulated input-event
                                    source that the real hid driver reads

Taps are judged on the injected clock, so a test's clock decides when they come; `read`
waits in real time, in short steps, for the clock to reach the next one.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from drivers import urls
from drivers.base import CardReader, CardTap, DriverError
from drivers.reader.hid import HidReader
from drivers.sim.input_events import InputEventSource
from drivers.urls import DriverUrl, Option, choice
from models.cards import parse_card
from runtime.worker import Worker

DEMO_CARD = "mifare:04A1B2C3D4E5F6"
DEMO_EVERY_S = 5.0
STEP_S = 0.02


URL_OPTIONS = {"sim": {
    "every": Option(urls.number(positive=True), None),
    "card": Option(parse_card, parse_card(DEMO_CARD)),
    "via": Option(choice("direct", "hid"), "direct"),
}}


class TapSchedule:
    """When the simulated cards touch the reader: the scene's people, or one card every
    `every` seconds from `start`."""

    def __init__(self, *, clock, scene=None, every: float | None = None,
                 card: tuple[str, bytes] = parse_card(DEMO_CARD)) -> None:
        self.clock, self.card = clock, card
        self.scene = scene if every is None else None
        self.every = every or DEMO_EVERY_S
        self._start = self._seen = clock.monotonic()

    def due(self) -> list[CardTap]:
        """The taps since the last call, in order."""
        now = self.clock.monotonic()
        after, self._seen = self._seen, now
        if self.scene is not None:
            return [CardTap(tap.person.card_kind, tap.person.card_number, tap.t_mono)
                    for tap in self.scene.taps_between(after, now)]
        first = int((after - self._start) // self.every) + 1
        last = int((now - self._start) // self.every)
        kind, number = self.card
        return [CardTap(kind, number, self._start + k * self.every)
                for k in range(max(first, last - 100), last + 1)]


class SimReader(CardReader):
    def __init__(self, schedule: TapSchedule) -> None:
        self.schedule = schedule
        self._taps: deque[CardTap] = deque()
        self._closed = threading.Event()
        self.taps = 0

    def read(self, timeout: float) -> CardTap | None:
        deadline = time.monotonic() + timeout
        while True:
            self._taps.extend(self.schedule.due())
            if self._taps:
                self.taps += 1
                return self._taps.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed.wait(min(STEP_S, remaining)):
                return None

    def counters(self) -> dict[str, int]:
        return {"reader_taps": self.taps}

    def close(self) -> None:
        self._closed.set()


class SimulatedHid(HidReader):
    """The real hid driver on a simulated input-event source that types each due tap's
    number in hex; closing stops the typist and removes the source."""

    def __init__(self, schedule: TapSchedule, *, clock) -> None:
        self.source = InputEventSource()
        self.schedule = schedule
        try:
            super().__init__(str(self.source.path), form="hex", clock=clock)
        except DriverError:
            self.source.close()
            raise
        self._typist = Worker("card-sim-typist", self._type_due)
        self._typist.start()

    @property
    def workers(self) -> tuple:
        return (*super().workers, self._typist)

    def _type_due(self) -> None:
        for tap in self.schedule.due():
            self.source.type_number(tap.number.hex().upper() if tap.kind != "hid"
                                    else tap.number.decode("ascii"))
        self._typist.stopping.wait(STEP_S)

    def close(self) -> None:
        self._typist.stop()
        super().close()
        self.source.close()


def from_url(spec: DriverUrl, *, clock, scene=None, **_) -> CardReader:
    """The scene's taps (or the fixed card), read directly or through the hid driver."""
    options = spec.options
    schedule = TapSchedule(clock=clock, scene=scene, every=options["every"],
                           card=options["card"])
    if options["via"] == "hid":
        return SimulatedHid(schedule, clock=clock)
    return SimReader(schedule)
