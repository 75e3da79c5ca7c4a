"""edge/cards.py: a tap becomes a token at once, waits in a short memory, serves once."""

from __future__ import annotations

import logging
import threading

from drivers.base import CardReader, CardTap
from drivers.clock import SystemClock
from edge.cards import KEEP, CardWorker, Tapped, Taps
from models.cards import card_token
from tests.support.waiting import wait_for

KEY = bytes(range(32))


def tapped(n: int, t: float) -> Tapped:
    return Tapped(f"{n:032x}", "mifare", t)


def test_near_taps_come_nearest_first_and_each_serves_once():
    taps = Taps()
    for n, t in enumerate((90.0, 99.0, 101.5, 120.0)):
        taps.add(tapped(n, t))
    near = taps.near(100.0, 10)
    assert [tap.t_mono for tap in near] == [99.0, 101.5, 90.0]
    assert taps.use(near[0]) and not taps.use(near[0])
    assert [tap.t_mono for tap in taps.near(100.0, 10)] == [101.5, 90.0]


def test_the_memory_is_bounded_and_an_evicted_tap_cannot_be_used():
    taps = Taps()
    first = tapped(0, 0.0)
    taps.add(first)
    for n in range(1, KEEP + 1):
        taps.add(tapped(n, float(n)))
    assert taps.used(first) and not taps.use(first)
    assert len(taps.near(KEEP / 2, KEEP)) == KEEP


def test_a_tap_while_a_guard_waits_is_the_guards():
    taps = Taps()
    with taps.for_guard():
        waiter = threading.Thread(target=lambda: found.append(taps.wait_new(5.0, 10)))
        found: list = []
        waiter.start()
        visitor = tapped(1, 6.0)
        taps.add(visitor)
        waiter.join(10)
    assert found == [visitor]
    assert taps.guards(visitor) and taps.near(6.0, 10) == []    # offered to no scan
    assert taps.wait_new(7.0, 0.05) is None                     # none newer came


class ListReader(CardReader):
    """Hands over the taps it is given (the drivers are tested on their own)."""

    def __init__(self, taps: list[CardTap]) -> None:
        self._taps = list(taps)

    def read(self, timeout: float):
        return self._taps.pop(0) if self._taps else None

    health = "ok"
    workers = ()

    def counters(self) -> dict:
        return {}


def test_the_worker_keeps_the_token_and_refuses_an_impossible_number(caplog):
    caplog.set_level(logging.INFO)
    clock = SystemClock()
    good = CardTap("mifare", bytes.fromhex("04a1b2c3"), clock.monotonic())
    bad = CardTap("cnid", b"\x01\x02\x03", clock.monotonic())         # not 8 bytes
    handed: list[Tapped] = []
    taps = Taps()
    worker = CardWorker(ListReader([bad, good]), KEY, taps, clock=clock, on_tap=handed.append)
    worker.start()
    try:
        wait_for(lambda: handed, "the good tap")
    finally:
        worker.stop()
    assert [tap.token for tap in handed] == [card_token(KEY, "mifare", good.number)]
    assert worker.counters()["card_taps_refused"] == 1
    assert handed[0].token_ms >= 0
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "04a1b2c3" not in text.lower() and "card_refused" in text
