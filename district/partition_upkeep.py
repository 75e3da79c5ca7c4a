"""The months' partitions made ahead while `district serve` runs, not only when it starts.

A receiver that runs for months would otherwise outlive the partitions its start made
(this month and DEFAULT_AHEAD more): its records would then fall into DEFAULT, where trace
queries are not pruned and retention never drops them, unless an operator remembered the
daily `district partitions`. The serve loop calls `tick()` on every supervision round;
every UPKEEP_EVERY_S it makes the months ahead on a connection of its own (the writer's
are busy), which is creation only: dropping months past retention stays the operator's
command. Creating a month that is there already changes nothing, so every worker of a
pool may do it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from district.stores.partitions import DEFAULT_AHEAD
from runtime import logs

UPKEEP_EVERY_S = 6 * 3600   # four times a day: a new month is always made weeks ahead
RETRY_S = 300               # after a failure (the database away): soon, not at once


class PartitionUpkeep:
    def __init__(self, open_store: Callable, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, every_s: float = UPKEEP_EVERY_S,
                 ahead: int = DEFAULT_AHEAD) -> None:
        self._open, self._clock, self._wall = open_store, clock, wall
        self._every_s, self._ahead = every_s, ahead
        self._due = clock() + every_s   # the store's opening at start made them just now

    def tick(self) -> list[dict] | None:
        """When due, make the months ahead; what partitions() said, else None. Never
        raises: a failure is logged and tried again RETRY_S later."""
        now = self._clock()
        if now < self._due:
            return None
        try:
            with self._open() as storage:
                done = storage.partitions(self._ahead, None, now_s=self._wall())
        except Exception as exc:    # the database away, a lock timeout: the receiver goes on
            self._due = now + RETRY_S
            logs.event("partition_upkeep_failed", logging.ERROR, error=repr(exc)[:300],
                       retry_s=RETRY_S)
            return None
        self._due = now + self._every_s
        made = [entry["partition"] for entry in done if entry["action"] == "created"]
        if made:
            logs.event("partitions_created", partitions=",".join(made))
        return done
