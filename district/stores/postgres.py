"""The district store on PostgreSQL (`[store] url = "postgresql://..."`), for a district that
outgrows one machine: several receivers on several hosts commit into one database.

Same tables and the same logic as SQLite (district/stores/sql.py). Receivers that commit
overlapping batches at once are kept apart by the unique constraints (an insert waits for
the other transaction, then does nothing); a deadlock between them is retried.
Needs psycopg 3 (`pip install checkpoint[district-pg]`), imported only here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from district.stores.sql import (
    CARD_INDEX,
    DEVICE_STORES,
    DEVICE_STORES_INDEX,
    FIELDS,
    INSERT,
    DistrictStoreError,
    SqlStore,
    added_columns,
)

_TYPES = {"temperature_c": "DOUBLE PRECISION", "seq": "BIGINT NOT NULL",
          "clock_synced": "BOOLEAN NOT NULL", "id": "TEXT NOT NULL"}
SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS records (
        row BIGSERIAL PRIMARY KEY,
        device TEXT NOT NULL, store TEXT NOT NULL,
        {", ".join(f"{name} {_TYPES.get(name, 'TEXT')}" for name in FIELDS)},
        ts_s DOUBLE PRECISION NOT NULL, batch TEXT NOT NULL, received TEXT NOT NULL,
        UNIQUE (id), UNIQUE (device, store, seq))""",
    "CREATE INDEX IF NOT EXISTS records_subject ON records (subject, ts_s)",
    "CREATE INDEX IF NOT EXISTS records_gate ON records (device, gate, ts_s)",
    """CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY, online BOOLEAN NOT NULL, status TEXT NOT NULL,
        last_seen TEXT NOT NULL, flag TEXT, flag_stores TEXT)""",
    DEVICE_STORES,
    DEVICE_STORES_INDEX,
]
DEADLOCK_RETRIES = 3
# Several receivers starting at once must not race on CREATE TABLE IF NOT EXISTS.
SCHEMA_LOCK = 0x4350_0001


class PgDistrictStore(SqlStore):
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        try:
            import psycopg
        except ImportError:
            raise DistrictStoreError("PostgreSQL store needs psycopg: "
                                     "pip install 'checkpoint[district-pg]'") from None
        self._psycopg = psycopg
        try:
            self._db = self._connect()
        except psycopg.Error as exc:
            raise DistrictStoreError(f"district store {_safe(url)}: "
                                     f"{str(exc).strip()}") from None

    def _connect(self):
        db = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                db.execute(statement)
            for table in ("records", "devices"):
                for statement in added_columns(_columns(db, table), table):
                    db.execute(statement)
            db.execute(CARD_INDEX)
        return db

    def _live(self):
        """The connection, made again if the server dropped it (restart, failover): the
        batch that met the failure went unacknowledged and comes again."""
        if self._db.broken:
            self._db = self._connect()
        return self._db

    def commit_batch(self, device: str, batch: dict) -> tuple[list[list[int]], list[dict]]:
        attempt = 1
        while True:
            try:
                return super().commit_batch(device, batch)
            except self._psycopg.errors.DeadlockDetected:
                if attempt >= DEADLOCK_RETRIES:
                    raise
                attempt += 1

    def _insert_rows(self, rows: list[dict]) -> list[bool]:
        """One pipelined round trip for the whole batch instead of one per record."""
        if not rows:
            return []
        sql = (INSERT + " RETURNING seq").replace("?", "%s")
        inserted = []
        with self._live().cursor() as cursor:
            cursor.executemany(sql, [tuple(row.values()) for row in rows], returning=True)
            while True:     # one result per row, in order: a row, or none if held already
                inserted.append(bool(cursor.fetchall()))
                if not cursor.nextset():
                    return inserted

    def _execute(self, sql: str, params: tuple = ()):
        return self._live().execute(sql, params)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._live().transaction():
            yield

    def _savepoint(self):
        """A nested psycopg transaction is a savepoint; a failed rollback to it raises a
        psycopg error that is not a DataError."""
        return self._db.transaction()

    def _data_error(self, exc: BaseException) -> bool:
        """A value PostgreSQL refuses (DataError: out of range, NUL in text, bad encoding;
        IntegrityError: a NOT NULL or CHECK constraint, since unique ones are ON CONFLICT
        DO NOTHING) or one psycopg cannot send (a lone surrogate); never a lost
        connection, a deadlock or a full disk (OperationalError)."""
        errors = self._psycopg
        if isinstance(exc, errors.DataError | errors.IntegrityError):
            return not self._db.broken
        return isinstance(exc, UnicodeEncodeError | OverflowError)

    def close(self) -> None:
        self._db.close()


def _columns(db, table: str) -> list[str]:
    return [row[0] for row in db.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND table_schema = current_schema()", (table,))]


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
