"""The ack line: has the district ever acknowledged a record of this store?

The store marks a record synced only on the district's own ack, so the newest synced
record is the latest proof that delivery works end to end. The store keeps no time of
the ack itself: the record's own time is what is shown. Read on a read-only connection,
so doctor never writes the agent's database.
"""

from __future__ import annotations

import sqlite3

from edge.doctor.result import Context, Finding, ok, warn
from edge.doctor.storage import read_only

ACK_HINT = ("check the broker line; the district's receiver must run and accept this "
            "device (`checkpoint district devices` on the district side)")


def check_ack(context: Context) -> Finding:
    path = context.store_path
    if not path.exists():
        return warn(f"no store yet at {path}: nothing sent", "start the agent once; "
                    "then doctor shows whether the district acknowledges its records")
    try:
        with read_only(path, context.timeout_s) as db:
            acked, newest = db.execute(
                "SELECT COUNT(*), MAX(ts) FROM records WHERE synced = 1").fetchone()
            waiting, oldest = db.execute(
                "SELECT COUNT(*), MIN(ts) FROM records WHERE synced = 0").fetchone()
    except sqlite3.Error as exc:
        return warn(f"{path}: cannot read the records ({exc})", "see the database line")
    backlog = f"{waiting} waiting" + (f" since {oldest}" if waiting else "")
    if not acked:
        return warn(f"nothing acknowledged by the district yet ({backlog})", ACK_HINT)
    return ok(f"{acked} records acknowledged, the newest from {newest}; {backlog}")
