"""SQLite as both stores use it: durable settings and one transaction guard.

Every file is opened in WAL mode with `synchronous=FULL`, so a committed row survives a
power cut (an ack or an opened gate promises it is on disk), and with a busy timeout so
that two connections of one process (the controller and the uplink) wait for each other
instead of failing.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 11, 13, 26
BUSY_TIMEOUT_MS = 5000


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any failure.

    SQLite rolls back by itself on some errors (a full disk among them); rolling back
    again would raise "no transaction is active" and hide the real error, so the
    rollback happens only while a transaction is still open, and a rollback that fails
    never replaces the error that caused it.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise


def errorcode(exc: sqlite3.Error) -> int | None:
    """The primary result code of an SQLite error (SQLITE_FULL, ...), not the extended one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF
