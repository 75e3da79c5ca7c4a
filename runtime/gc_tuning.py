"""The garbage collector's schedule for a process that makes objects by the million: the
district receiver (`district serve`).

By default CPython collects its youngest generation every 700 container allocations. The
receiver makes several containers per record (the record's dict as decoded, its row, the
tuples of its keys), so at tens of thousands of records a second it ran a collection every
few batches, each one walking the batches still queued for the writer: a fifth of the
time the receiver spent decoding, checking and making rows (measured: 15.5 against 12.6
microseconds a record with the threshold at 10,000; `scripts/bench_delivery.py` shows the
whole receiver). Reference counting frees these objects as soon as they are done with
either way; the collector is only there for reference cycles, which now wait a few more
batches. The older generations keep their defaults.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000    # container allocations between youngest-generation collections


def for_ingest() -> None:
    """Collect the youngest generation every YOUNG_THRESHOLD allocations, not 700."""
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), middle, oldest)
