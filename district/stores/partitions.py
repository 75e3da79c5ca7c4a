"""Monthly partitions of the PostgreSQL district store's `records` (docs/district.md
section 9).

A store made new on PostgreSQL keeps `records` as `PARTITION BY RANGE (ts_s)`: one
partition per calendar month (UTC), `records_YYYY_MM`, holding [first second of the month,
first second of the next), and `records_default` for a record of a month that has no
partition yet. A trace names a time range, so PostgreSQL reads only the months in it; old
months go as whole tables (`DROP TABLE`), not row by row.

Partitions are made from the current month to some months ahead when the store is opened
(`district serve`) and by `checkpoint district partitions`, which also drops the months
older than the retention. Should records have fallen into DEFAULT, making their month's
partition moves them into it, in one transaction.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime

DEFAULT_AHEAD = 3       # months made ahead of the current one
PARENT = "records"
DEFAULT_PARTITION = "records_default"
_BOUND = re.compile(r"FOR VALUES FROM \('?([-0-9.e+]+)'?\) TO \('?([-0-9.e+]+)'?\)")


def month_start(year: int, month: int) -> float:
    """The first second of a UTC month, as epoch seconds (ts_s)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


def month_of(epoch_s: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.year, moment.month


def months_from(epoch_s: float, ahead: int) -> list[tuple[str, float, float]]:
    """(name, lower, upper) of the month holding epoch_s and the `ahead` after it."""
    year, month = month_of(epoch_s)
    found = []
    for step in range(ahead + 1):
        index = month - 1 + step
        y, m = year + index // 12, index % 12 + 1
        found.append((f"records_{y:04d}_{m:02d}", month_start(y, m), month_start(y, m + 1)))
    return found


def is_partitioned(db) -> bool:
    row = db.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                     (PARENT,)).fetchone()
    return bool(row) and row[0] == "p"


def partitions(db) -> list[dict]:
    """The partitions of records: name and bounds (None for DEFAULT), oldest first, then
    DEFAULT."""
    rows = db.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
        (PARENT,)).fetchall()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        lower, upper = (float(match[1]), float(match[2])) if match else (None, None)
        found.append({"partition": name, "from_s": lower, "to_s": upper})
    return sorted(found, key=lambda p: (p["from_s"] is None, p["from_s"] or 0, p["partition"]))


def create_months(db, ahead: int = DEFAULT_AHEAD, now_s: float | None = None) -> list[dict]:
    """Make the partitions of this month and `ahead` more that do not exist yet, in the
    caller's transaction; one dict per month: created (moved: rows taken from DEFAULT)
    or kept."""
    now_s = time.time() if now_s is None else now_s
    held = {p["partition"] for p in partitions(db)}
    done = []
    for name, lower, upper in months_from(now_s, ahead):
        if name in held:
            done.append(_entry("kept", name, lower, upper))
            continue
        moved = _create(db, name, lower, upper)
        done.append({**_entry("created", name, lower, upper), "moved": moved})
    return done


def _create(db, name: str, lower: float, upper: float) -> int:
    """One month's partition; the rows DEFAULT holds in its range are moved into it (a
    partition cannot be made while DEFAULT holds rows it would take). Rows moved."""
    stray = db.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} "
                       "WHERE ts_s >= %s AND ts_s < %s)", (lower, upper)).fetchone()[0]
    if not stray:
        db.execute(f"CREATE TABLE {name} PARTITION OF {PARENT} "
                   f"FOR VALUES FROM ({lower!r}) TO ({upper!r})")
        return 0
    columns = ", ".join(row[0] for row in db.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum", (PARENT,)))
    db.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
    moved = db.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE ts_s >= %s AND ts_s < %s "
        f"RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved",
        (lower, upper)).rowcount
    db.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
               f"FOR VALUES FROM ({lower!r}) TO ({upper!r})")
    return moved


def drop_older(db, retention_days: int | None, now_s: float | None = None) -> list[dict]:
    """Drop the month partitions whose upper bound is more than retention_days ago (None:
    keep all), in the caller's transaction; one dict per partition: dropped or kept.
    DEFAULT is always kept, but the records in it of the months dropped are deleted (its
    entry says how many as `pruned`): retention holds for every record, wherever a
    device's clock put it."""
    now_s = time.time() if now_s is None else now_s
    cutoff = None if retention_days is None else now_s - retention_days * 86400
    done = []
    for part in partitions(db):
        name, lower, upper = part["partition"], part["from_s"], part["to_s"]
        if cutoff is not None and upper is not None and upper <= cutoff:
            db.execute(f"DROP TABLE {name}")
            done.append(_entry("dropped", name, lower, upper))
        elif cutoff is not None and upper is None:
            done.append({**_entry("kept", name, lower, upper),
                         "pruned": _prune_default(db, cutoff)})
        else:
            done.append(_entry("kept", name, lower, upper))
    return done


def _prune_default(db, cutoff: float) -> int:
    """Delete from DEFAULT the records of every month that ended by `cutoff`, as dropping
    those months' partitions does; the number deleted."""
    before = month_start(*month_of(cutoff))     # months ending at or before the cutoff
    return db.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts_s < %s",
                      (before,)).rowcount


def _entry(action: str, name: str, lower: float | None, upper: float | None) -> dict:
    return {"partition": name, "action": action, "from": _time(lower), "to": _time(upper)}


def _time(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
