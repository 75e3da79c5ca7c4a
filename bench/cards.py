"""Time from a reader seeing a card to the card's token, on each reader path.

Every path runs the agent's own tokeniser (edge/cards.py CardWorker) behind a real
driver: the real hid driver reading keystrokes from a simulated input-event source, and
the real PN532 driver talking to the PN532 simulator on a pseudo-terminal. (The plain
`sim://` reader is left out: it looks for due taps every 20 ms, which is all it would
measure.) `hash` is the baseline measured in the same run:
the keyed hash alone, with no driver and no thread. A tap's time starts when its driver
says the card was seen (for the PN532: the second poll that read it).
"""

from __future__ import annotations

import statistics
import time

from drivers.clock import SystemClock
from edge.cards import CardWorker, Taps
from models.cards import card_token

KEY = bytes(range(32))
UID = bytes.fromhex("04a1b2c3d4e5f6")


def measure(taps: int = 200, pn532_taps: int = 30) -> dict:
    rows = [_row("hash", _hash_ms(taps * 10))]
    rows.append(_row("hid", _registry_ms("sim://?every=0.05&via=hid", taps)))
    rows.append(_row("pn532", _pn532_ms(pn532_taps)))
    return {"rows": rows}


def _row(path: str, samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"path": path, "taps": len(samples), "median_ms": round(statistics.median(ordered), 4),
            "p99_ms": round(p99, 4)}


def _hash_ms(count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        card_token(KEY, "mifare", UID[:-1] + bytes((n % 256,)))
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def _collect(reader, count: int, present=None) -> list[float]:
    """token_ms of `count` taps through the agent's tokeniser on `reader`."""
    clock = SystemClock()
    seen: list[float] = []
    worker = CardWorker(reader, KEY, Taps(), clock=clock,
                        on_tap=lambda tap: seen.append(tap.token_ms))
    worker.start()
    try:
        deadline = time.monotonic() + 30 + count
        while len(seen) < count and time.monotonic() < deadline:
            if present is not None:
                present(len(seen))
            else:
                time.sleep(0.05)
    finally:
        worker.stop()
        reader.close()
    return seen[:count]


def _registry_ms(url: str, count: int) -> list[float]:
    from drivers import registry

    return _collect(registry.open_reader(url, clock=SystemClock()), count)


def _pn532_ms(count: int) -> list[float]:
    from drivers.reader.pn532 import Pn532Reader
    from drivers.sim.pn532 import Pn532Simulator

    with Pn532Simulator() as simulator:
        reader = Pn532Reader(simulator.port, clock=SystemClock())
        state = {"done": -1}

        def present(done: int) -> None:
            """One card on, until its tap is in; then off for a few polls."""
            if done != state["done"]:
                state["done"] = done
                simulator.remove()
                time.sleep(0.25)            # away for more than two polls
                simulator.present_card(UID[:-1] + bytes((done % 256,)))
            time.sleep(0.01)

        return _collect(reader, count, present)


def show(figures: dict) -> None:
    print("Cards: time from the reader seeing a card to its token (ms; hash = the keyed "
          "hash alone, the baseline)")
    print(f"{'path':>8} {'taps':>6} {'median':>9} {'p99':>9}")
    for row in figures["rows"]:
        print(f"{row['path']:>8} {row['taps']:>6} {row['median_ms']:>9.4f} {row['p99_ms']:>9.4f}")
    print()
