"""The audit log of trace queries: who traced whom, when, over what time, and why.

Tracing people is the most sensitive thing the district can do, so `district trace`
writes its row here, committed, before it prints anything, and refuses to trace when it
cannot (docs/district.md, "Trace audit"; docs/decisions.md, "District"). A row is
opened with the query's terms and `outcome` null, then closed with the visits found and
`outcome` "found", "none" or "failed": a row whose outcome stays null is a query that
never finished (killed, or the store failed while closing it).

The table is made here, with portable SQL, through the store's own `_run` and
`_transaction`, the same on SQLite and PostgreSQL; nothing else writes to it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from models.timefmt import rfc3339

# Column names avoid SQL keywords (`window` is reserved in PostgreSQL); `entries` gives
# them their listing names.
TABLE = """CREATE TABLE IF NOT EXISTS trace_audit (
    id TEXT PRIMARY KEY, at TEXT NOT NULL, at_s DOUBLE PRECISION NOT NULL,
    operator TEXT NOT NULL, purpose TEXT NOT NULL, subject TEXT NOT NULL,
    since_t TEXT, until_t TEXT, window_min DOUBLE PRECISION NOT NULL,
    visits BIGINT, lines BIGINT, outcome TEXT, finished TEXT)"""
LISTED = (("at", "at"), ("operator", "operator"), ("purpose", "purpose"),
          ("subject", "subject"), ("since_t", "since"), ("until_t", "until"),
          ("window_min", "window"), ("visits", "visits"), ("lines", "lines"),
          ("outcome", "outcome"), ("finished", "finished"), ("id", "id"))
PURPOSE_CHARS = (5, 500)
OPERATOR_CHARS = (1, 64)


@dataclass(frozen=True)
class Query:
    """The terms of one trace, as the operator gave them (times as RFC 3339 or None)."""
    operator: str
    purpose: str
    subject: str
    since: str | None
    until: str | None
    window_min: float


def text_problem(text: str, what: str, bounds: tuple[int, int]) -> str | None:
    """Why a purpose or an operator name cannot go into the log, or None."""
    low, high = bounds
    if not low <= len(text) <= high:
        return f"{what} must be {low} to {high} characters (got {len(text)})"
    if not text.isprintable():
        return f"{what} must be printable text on one line"
    return None


def ensure_table(store) -> None:
    with store._transaction():
        store._run(TABLE)


def open_entry(store, query: Query, now: float | None = None) -> str:
    """Commit the row of a trace about to run; its id. Raises what the store raises."""
    now = time.time() if now is None else now
    entry = str(uuid.uuid4())
    ensure_table(store)
    with store._transaction():
        store._run("INSERT INTO trace_audit (id, at, at_s, operator, purpose, subject, "
                   "since_t, until_t, window_min) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (entry, rfc3339(now), now, query.operator, query.purpose, query.subject,
                    query.since, query.until, query.window_min))
    return entry


def close_entry(store, entry: str, *, visits: int | None, lines: int | None,
                outcome: str) -> None:
    """Write what the trace found (or that it failed) into its row."""
    with store._transaction():
        store._run("UPDATE trace_audit SET visits = ?, lines = ?, outcome = ?, finished = ? "
                   "WHERE id = ?", (visits, lines, outcome, rfc3339(time.time()), entry))


def entries(store, since_s: float | None = None) -> list[dict]:
    """The log, oldest first, optionally from `since_s` on."""
    ensure_table(store)
    low = float("-inf") if since_s is None else since_s
    columns = ", ".join(column for column, _ in LISTED)
    rows = store._run(f"SELECT {columns} FROM trace_audit WHERE at_s >= ? "
                      "ORDER BY at_s, id", (low,)).fetchall()
    return [{name: value for (_, name), value in zip(LISTED, row, strict=True)}
            for row in rows]
