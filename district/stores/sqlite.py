"""The district's SQLite store, the default (`[store] url = "sqlite:///district.db"`).

One file, WAL, `synchronous=FULL`: an ack promises the row is on disk. The shared logic
(idempotent commits, registry, queries) is in district/stores/sql.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from district.stores.sql import (
    CARD_INDEX,
    DEVICE_STORES,
    DEVICE_STORES_INDEX,
    FIELDS,
    DistrictStoreError,
    SqlStore,
    added_columns,
)
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
""" + DEVICE_STORES + ";\n" + DEVICE_STORES_INDEX + ";\n" + CARD_INDEX + ";\n"
# Result codes of SQLite refusing one row's values: too big, a constraint, a datatype
# mismatch, a parameter out of range. Every other code is the store failing as a whole
# (busy or locked, I/O, full, corrupt, read-only, out of memory, a statement wrong for any
# row): a batch meeting one stays unacked, to be resent.
ROW_REFUSALS = {18, 19, 20, 25}     # SQLITE_TOOBIG, _CONSTRAINT, _MISMATCH, _RANGE


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

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        self._db.executemany(sql, rows)

    def _transaction(self):
        return sqlite.transaction(self._db)

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT cp_record")
        try:
            yield
        except BaseException as exc:
            if not self._db.in_transaction:     # SQLite rolled it all back (a full disk)
                raise
            try:
                self._db.execute("ROLLBACK TO cp_record")
                self._db.execute("RELEASE cp_record")
            except sqlite3.Error as failed:
                raise SavepointLost(str(failed)) from exc
            raise
        self._db.execute("RELEASE cp_record")

    def _data_error(self, exc: BaseException) -> bool:
        """A value the sqlite3 module cannot bind (an int beyond 64 bits, a lone surrogate,
        a type without an SQLite type) or one SQLite refuses for the row (ROW_REFUSALS);
        never a failure of the file or the connection."""
        if isinstance(exc, OverflowError | UnicodeEncodeError):
            return True
        if isinstance(exc, sqlite3.InterfaceError | sqlite3.ProgrammingError):
            return str(exc).startswith("Error binding parameter")
        return isinstance(exc, sqlite3.Error) and sqlite.errorcode(exc) in ROW_REFUSALS

    def close(self) -> None:
        self._db.close()


class SavepointLost(Exception):
    """Rolling back to a record's savepoint failed: the batch's transaction is not sound."""
