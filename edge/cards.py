"""The card reader's side of the agent: a tap becomes a token at once, then waits a short
while for the decision it belongs to (PROTOCOL.md section 9).

One supervised worker reads the reader. The first thing done with a tap is its token
(models/cards.py): the raw number goes no further than this module's `_tokenised`, is
never logged and never queued. The token waits in `Taps`, a short memory of recent taps
that the controller reads when it decides on a pass (a card may be tapped before or
after the code, within the policy's `card_window_s`) and that the console reads when a
guard registers a visitor by tap. A tap serves one decision: once used it is offered to
no other. Each tap is also handed to `on_tap` (the controller's queue), so that a card
alone can be decided when the policy lets one (`require_pass = false`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from drivers.base import CardReader, CardTap
from edge.policy import CardSeen, Context, Decision
from models.cards import card_token, number_problem
from runtime import logs
from runtime.worker import Worker

READ_WAIT_S = 0.2
KEEP = 16               # recent taps remembered: far more than a lane's window can hold
# Longest the lane waits for a tap once a code is read and only the card is missing: a
# person takes a few seconds to find a card; beyond, the guard is asked (card_missing).
MAX_CARD_WAIT_S = 8.0


@dataclass(frozen=True)
class Tapped:
    """A tap as the agent keeps it: the token, never the number."""

    token: str
    kind: str
    t_mono: float               # when the reader saw the card (the clock's monotonic time)
    token_ms: float = 0.0       # from the reader seeing the card to the token


class Taps:
    """Recent taps, each usable once; safe to share between threads."""

    def __init__(self, keep: int = KEEP) -> None:
        self._taps: deque[Tapped] = deque(maxlen=keep)
        self._used: set[Tapped] = set()
        self._changed = threading.Condition()
        self._guard_waits = 0       # guards waiting for a visitor's tap (registration)
        self._guards: set[Tapped] = set()   # taps that came while a guard waited

    def add(self, tap: Tapped) -> None:
        with self._changed:
            if len(self._taps) == self._taps.maxlen:
                self._used.discard(self._taps[0])
                self._guards.discard(self._taps[0])
            self._taps.append(tap)
            if self._guard_waits:
                self._guards.add(tap)
            self._changed.notify_all()

    def near(self, t_mono: float, window_s: float) -> list[Tapped]:
        """Unused taps within `window_s` of `t_mono`, before or after, nearest first."""
        with self._changed:
            return self._near(t_mono, window_s)

    def _near(self, t_mono: float, window_s: float) -> list[Tapped]:
        found = [tap for tap in self._taps if tap not in self._used
                 and tap not in self._guards and abs(tap.t_mono - t_mono) <= window_s]
        return sorted(found, key=lambda tap: abs(tap.t_mono - t_mono))

    def wait_new(self, since_mono: float, timeout: float,
                 wanted: Callable[[Tapped], bool] = lambda tap: True) -> Tapped | None:
        """The first unused tap seen at or after `since_mono` (the clock's time) that is
        `wanted`, waiting up to `timeout` real seconds for one; None when none came."""
        deadline = time.monotonic() + timeout   # a test's clock may stand still meanwhile
        with self._changed:
            while True:
                for tap in self._taps:
                    if tap.t_mono >= since_mono and tap not in self._used and wanted(tap):
                        return tap
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, READ_WAIT_S))

    @contextlib.contextmanager
    def for_guard(self) -> Iterator[None]:
        """While a guard waits for a visitor to tap (registration by card), a tap is the
        guard's: it is not decided alone as a card presented at the gate, nor offered to
        a scan."""
        with self._changed:
            self._guard_waits += 1
        try:
            yield
        finally:
            with self._changed:
                self._guard_waits -= 1

    def guards(self, tap: Tapped) -> bool:
        """Whether `tap` came while a guard waited for one: it is the guard's to use (the
        registration's), never a card presented at the gate, even once the wait is over."""
        with self._changed:
            return tap in self._guards or self._guard_waits > 0

    def use(self, tap: Tapped) -> bool:
        """Mark `tap` as serving a decision; False when another already took it."""
        with self._changed:
            if tap in self._used or tap not in self._taps:
                return False
            self._used.add(tap)
            return True

    def used(self, tap: Tapped) -> bool:
        with self._changed:
            return tap in self._used or tap not in self._taps


class CardDesk:
    """The taps one decision is shown, for the controller: offered as the policy sees them
    (each with the resident its token is bound to), awaited when a tap is all the
    decision lacks, and the one it records taken. No reader: nothing is ever offered."""

    def __init__(self, taps: Taps | None, clock, wait_s: float = MAX_CARD_WAIT_S) -> None:
        self.taps, self.clock, self.wait_s = taps, clock, wait_s
        self._offered: dict[CardSeen, Tapped] = {}

    def offer(self, trust, t_mono: float) -> tuple[CardSeen, ...]:
        """The unused taps within the policy's window of `t_mono`, nearest first."""
        if self.taps is None or trust.policy.card == "off":
            self._offered = {}
            return ()
        near = self.taps.near(t_mono, trust.policy.card_window_s)
        seen = [(CardSeen(tap.token, tap.kind, trust.holder(tap.token)), tap) for tap in near]
        # nearest last, so that of two taps of one card the nearest is the one taken
        self._offered = dict(reversed(seen))
        return tuple(card for card, _ in seen)

    def awaited(self, policy, context: Context) -> bool:
        """Whether the decision lacks only a tap that may still come: a card is asked for
        (a resident with cards, or everyone under "required") and none was tapped."""
        wanted = bool(context.cards) or policy.card == "required"
        return self.taps is not None and policy.card != "off" and wanted and not context.taps

    def await_tap(self, trust, shown_at: float, context: Context) -> Context:
        """The context again once a tap came (or the wait ended): the person taps after
        showing the code, within the window and at most `wait_s` from now."""
        window = trust.policy.card_window_s
        left = min(self.wait_s, shown_at + window - self.clock.monotonic())
        if self.taps.wait_new(shown_at - window, max(0.0, left)) is None:
            return context
        return replace(context, taps=self.offer(trust, shown_at))

    def served(self, decision: Decision) -> None:
        """The tap a decision records serves no other."""
        tapped = self._offered.get(decision.card) if decision.card else None
        if tapped is not None:
            self.taps.use(tapped)
        self._offered = {}


class CardWorker:
    """Reads the reader, tokenises each tap, remembers it and hands it on."""

    def __init__(self, reader: CardReader, key: bytes, taps: Taps, *, clock,
                 on_tap: Callable[[Tapped], object] | None = None) -> None:
        self.reader = reader
        self.taps = taps
        self.clock = clock
        self.on_tap = on_tap
        self._key = key
        self.refused = 0            # taps whose number no card of its kind can have
        self.worker = Worker("cards", self._take_tap, take=self._next_tap,
                             describe=lambda tap: f"tap kind={tap.kind}")

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def _next_tap(self) -> CardTap | None:
        return self.reader.read(timeout=READ_WAIT_S)

    def _take_tap(self, tap: CardTap) -> None:
        tapped = self._tokenised(tap)
        if tapped is None:
            return
        self.taps.add(tapped)
        logs.event("card_tap", kind=tapped.kind, token=tapped.token,
                   token_ms=round(tapped.token_ms, 2))
        if self.on_tap is not None:
            self.on_tap(tapped)

    def _tokenised(self, tap: CardTap) -> Tapped | None:
        """The tap's token; the number stops here. A number no card of its kind has (a
        driver's bug) is refused and counted, never hashed into a plausible token."""
        problem = number_problem(tap.kind, tap.number)
        if problem:
            self.refused += 1
            logs.event("card_refused", logging.WARNING, kind=tap.kind, problem=problem)
            return None
        token = card_token(self._key, tap.kind, tap.number)
        return Tapped(token, tap.kind, tap.t_mono,
                      (self.clock.monotonic() - tap.t_mono) * 1000.0)

    def counters(self) -> dict[str, int]:
        return {**self.reader.counters(), "card_taps_refused": self.refused}
