"""Contact tracing: where and when a subject passed, and who else was at that gate then.

A gate is one device's gate name: names like "east-1" repeat across communities, while a
device stands at one place. Each other subject seen at that gate within the window counts
once per visit, at its record closest in time to the visit.

A card token is traced as a subject is (PROTOCOL.md section 9): a visit is a record whose
`subject` or `card` is the id asked for; both are 16 random-looking bytes in hex, so one
never stands for the other. A record with no subject (a card alone, a visitor registered
by tap) is a contact by its card token.
"""

from __future__ import annotations

from collections.abc import Iterator

from district.stores.sql import SqlStore

DEFAULT_WINDOW_S = 15 * 60


def trace(store: SqlStore, subject: str, *, since_s: float | None = None,
          until_s: float | None = None, window_s: float = DEFAULT_WINDOW_S) -> Iterator[dict]:
    """One dict per contact; a visit with no contact yields one dict with `contact` None."""
    for visit, near in store.visits_around(subject, since_s, until_s, window_s):
        where = {"subject": subject, "device": visit["device"], "gate": visit["gate"],
                 "ts": visit["ts"], "decision": visit["decision"]}
        contacts = _contacts(visit, near, subject)
        if not contacts:
            yield {**where, "contact": None, "contact_ts": None, "contact_decision": None,
                   "gap_s": None}
        for other in contacts:
            yield {**where, "contact": other["subject"], "contact_ts": other["ts"],
                   "contact_decision": other["decision"],
                   "gap_s": round(other["ts_s"] - visit["ts_s"], 3)}


def _contacts(visit: dict, near: list[dict], subject: str) -> list[dict]:
    closest: dict[str, dict] = {}
    # the person traced, by every id the visit knows them by: traced by card, a record of
    # their subject is theirs too, not a contact
    theirs = {subject, visit.get("subject"), visit.get("card")} - {None}
    for row in near:
        other = _who(row)
        if other is None or theirs & {row["subject"], row.get("card")}:
            continue
        held = closest.get(other)
        gap = abs(row["ts_s"] - visit["ts_s"])
        if held is None or gap < abs(held["ts_s"] - visit["ts_s"]):
            closest[other] = {**row, "subject": other}
    return sorted(closest.values(), key=lambda row: (row["ts_s"], row["subject"]))


def _who(row: dict) -> str | None:
    """The pseudonymous id a record stands for: its subject, else its card token."""
    return row["subject"] or row.get("card")
