"""Contact tracing: where and when a subject passed, and who else was at that gate then.

A gate is one device's gate name: names like "east-1" repeat across communities, while a
device stands at one place. Each other subject seen at that gate within the window counts
once per visit, at its record closest in time to the visit.
"""

from __future__ import annotations

from collections.abc import Iterator

from district.stores.sql import SqlStore

DEFAULT_WINDOW_S = 15 * 60


def trace(store: SqlStore, subject: str, *, since_s: float | None = None,
          until_s: float | None = None, window_s: float = DEFAULT_WINDOW_S) -> Iterator[dict]:
    """One dict per contact; a visit with no contact yields one dict with `contact` None."""
    for visit in store.visits(subject, since_s, until_s):
        where = {"subject": subject, "device": visit["device"], "gate": visit["gate"],
                 "ts": visit["ts"], "decision": visit["decision"]}
        contacts = _contacts(store, visit, subject, window_s)
        if not contacts:
            yield {**where, "contact": None, "contact_ts": None, "contact_decision": None,
                   "gap_s": None}
        for other in contacts:
            yield {**where, "contact": other["subject"], "contact_ts": other["ts"],
                   "contact_decision": other["decision"],
                   "gap_s": round(other["ts_s"] - visit["ts_s"], 3)}


def _contacts(store: SqlStore, visit: dict, subject: str, window_s: float) -> list[dict]:
    closest: dict[str, dict] = {}
    for row in store.at_gate(visit["device"], visit["gate"], visit["ts_s"] - window_s,
                             visit["ts_s"] + window_s):
        other = row["subject"]
        if other is None or other == subject:
            continue
        held = closest.get(other)
        gap = abs(row["ts_s"] - visit["ts_s"])
        if held is None or gap < abs(held["ts_s"] - visit["ts_s"]):
            closest[other] = row
    return sorted(closest.values(), key=lambda row: (row["ts_s"], row["subject"]))
