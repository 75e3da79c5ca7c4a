"""The district's SQLite store, the default (`[store] url = "sqlite:///district.db"`).

One file, WAL, `synchronous=FULL`: an ack promises the row is on disk. The shared logic
(idempotent commits, registry, queries) is in district/stores/sql.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from district.stores.sql import DEVICE_STORES, FIELDS, DistrictStoreError, SqlStore, added_columns
from runtime import sqlite

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
    last_seen TEXT NOT NULL, flag TEXT, flag_stores TEXT
);
""" + DEVICE_STORES + ";\n"


class DistrictStore(SqlStore):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite.connect(self.path)
            self._upgrade()
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DistrictStoreError(f"district store {self.path}: {exc}") from None

    def _upgrade(self) -> None:
        """A store made by an earlier version gets the columns added since: `ts_s` (filled
        from `ts`), the optional record fields and the registry's flag (device_stores is
        created by SCHEMA)."""
        columns = self._columns("records")
        if columns and "ts_s" not in columns:
            self._db.execute("ALTER TABLE records ADD COLUMN ts_s REAL NOT NULL DEFAULT 0")
            self._db.execute("UPDATE records SET ts_s = (julianday(ts) - 2440587.5) * 86400.0")
        for table in ("records", "devices"):
            for statement in added_columns(self._columns(table), table):
                self._db.execute(statement)

    def _columns(self, table: str) -> list[str]:
        return [row[1] for row in self._db.execute(f"PRAGMA table_info({table})")]

    def _execute(self, sql: str, params: tuple = ()):
        return self._db.execute(sql, params)

    def _transaction(self):
        return sqlite.transaction(self._db)

    def close(self) -> None:
        self._db.close()
