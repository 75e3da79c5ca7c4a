"""The device's SQLite store: every decision, kept until the district acknowledges it.

Append-only records with a `seq` that is never reused (AUTOINCREMENT survives deletes),
WAL with synchronous=FULL so a committed decision survives a power cut, and numbered
schema migrations from the first version on. Only the controller writes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.records import FIELDS, Record

MIGRATIONS = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        ts TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        gate TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('pass', 'deny', 'check')),
        reasons TEXT NOT NULL,
        pass_format TEXT, issuer TEXT, kid TEXT, subject TEXT, color TEXT,
        pass_exp TEXT, tested_at TEXT, temperature_c REAL, operator TEXT, note TEXT,
        synced INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX records_unsynced ON records (synced, seq);
    CREATE TABLE passed (cti TEXT PRIMARY KEY, exp INTEGER NOT NULL, seq INTEGER NOT NULL);
    """,
)


class StoreError(Exception):
    """The store cannot be opened or written; the message is meant for the user."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
            self.store_id = self._store_id()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"store {self.path}: {exc}") from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"store {self.path}: schema version {version} is newer than "
                             f"this program ({len(MIGRATIONS)})")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version={number};"
                                   " COMMIT;")

    def _store_id(self) -> str:
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)",
                         (str(uuid.uuid4()),))
        return self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()[0]

    def commit(self, record: Record, passed: tuple[str, int] | None = None) -> int:
        """Commit one record (and the pass id that passed, for replay checks); return its seq."""
        row = record.to_wire()
        row["reasons"] = json.dumps(row["reasons"])
        row["clock_synced"] = int(row["clock_synced"])
        del row["seq"]
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._transaction():
            seq = self._db.execute(f"INSERT INTO records ({names}) VALUES ({marks})",
                                   tuple(row.values())).lastrowid
            if passed:
                self._db.execute("INSERT OR REPLACE INTO passed VALUES (?, ?, ?)",
                                 (*passed, seq))
        return seq

    def has_passed(self, cti: str) -> bool:
        """Did this pass id already produce a pass here?"""
        found = self._db.execute("SELECT 1 FROM passed WHERE cti = ?", (cti,)).fetchone()
        return found is not None

    def records(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Every record in seq order (optionally from time `since` on), with `synced`."""
        query = f"SELECT {', '.join(FIELDS)}, synced FROM records"
        params: tuple = ()
        if since:
            query += " WHERE ts >= ?"
            params = (since,)
        for row in self._db.execute(query + " ORDER BY seq", params):
            yield _row_to_dict(row)

    def unsynced(self, limit: int, after_seq: int = 0) -> list[dict[str, Any]]:
        """Up to `limit` records the district has not acknowledged, oldest first."""
        query = (f"SELECT {', '.join(FIELDS)}, synced FROM records "
                 "WHERE synced = 0 AND seq > ? ORDER BY seq LIMIT ?")
        return [_row_to_dict(row) for row in self._db.execute(query, (after_seq, limit))]

    def mark_synced(self, first_seq: int, last_seq: int) -> int:
        """Mark an acknowledged range of seq as delivered; returns how many rows changed."""
        with self._transaction():
            return self._db.execute(
                "UPDATE records SET synced = 1 WHERE seq BETWEEN ? AND ? AND synced = 0",
                (first_seq, last_seq)).rowcount

    def backlog(self) -> tuple[int, str | None]:
        """How many records wait for an ack, and the time of the oldest one."""
        count, oldest = self._db.execute(
            "SELECT COUNT(*), MIN(ts) FROM records WHERE synced = 0").fetchone()
        return count, oldest

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _row_to_dict(row: tuple) -> dict[str, Any]:
    data = dict(zip((*FIELDS, "synced"), row, strict=True))
    data["reasons"] = json.loads(data["reasons"])
    data["clock_synced"] = bool(data["clock_synced"])
    data["synced"] = bool(data["synced"])
    return data
