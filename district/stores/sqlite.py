"""The district's SQLite store, the default (`[store] url = "sqlite:///district.db"`).

One file, WAL, `synchronous=FULL`: an ack promises the row is on disk. The shared logic
(idempotent commits, registry, queries) is in district/sqlstore.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from district.stores.sql import FIELDS, DistrictStoreError, SqlStore, seq_ranges

__all__ = ["FIELDS", "DistrictStore", "DistrictStoreError", "seq_ranges"]

_TYPES = {"temperature_c": "REAL", "seq": "INTEGER NOT NULL",
          "clock_synced": "INTEGER NOT NULL", "id": "TEXT NOT NULL"}
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    row INTEGER PRIMARY KEY,
    device TEXT NOT NULL, store TEXT NOT NULL,
    {", ".join(f"{name} {_TYPES.get(name, 'TEXT')}" for name in FIELDS)},
    ts_s REAL NOT NULL, batch TEXT NOT NULL, received TEXT NOT NULL,
    UNIQUE (id), UNIQUE (device, store, seq)
);
CREATE INDEX IF NOT EXISTS records_subject ON records (subject, ts_s);
CREATE INDEX IF NOT EXISTS records_gate ON records (device, gate, ts_s);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, online INTEGER NOT NULL, status TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
"""


class DistrictStore(SqlStore):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._add_time_column()
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DistrictStoreError(f"district store {self.path}: {exc}") from None

    def _add_time_column(self) -> None:
        """A store made before `ts_s` existed gets it, filled from `ts`."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(records)")]
        if columns and "ts_s" not in columns:
            self._db.execute("ALTER TABLE records ADD COLUMN ts_s REAL NOT NULL DEFAULT 0")
            self._db.execute("UPDATE records SET ts_s = (julianday(ts) - 2440587.5) * 86400.0")

    def _execute(self, sql: str, params: tuple = ()):
        return self._db.execute(sql, params)

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
