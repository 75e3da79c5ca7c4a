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
    COLUMNS,
    DEVICE_STORES,
    DEVICE_STORES_INDEX,
    FIELDS,
    DistrictStoreError,
    Outcome,
    Prepared,
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
        self._staged = None     # the connection whose staging table exists
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

    def commit_prepared(self, prepared: list[Prepared]) -> list[Outcome]:
        attempt = 1
        while True:
            try:
                return super().commit_prepared(prepared)
            except self._psycopg.errors.DeadlockDetected:
                if attempt >= DEADLOCK_RETRIES:
                    raise
                attempt += 1
                for item in prepared:
                    item.reset()

    def _insert_rows(self, rows: list[dict]) -> list[bool]:
        """COPY into the connection's staging table, then one INSERT ... SELECT that skips
        what is held already: a few round trips for any number of rows, where a pipelined
        INSERT per row spent half the receiver's time. The rows' keys (device, store, seq)
        are distinct (SqlStore._insert_all), so RETURNING them says which went in. (Not
        sorted by key: only two receivers inserting the same resent rows at once can
        deadlock, which is retried, and sorting every flush cost a fifth of the insert.)
        The staging table empties itself at commit or rollback (ON COMMIT DELETE ROWS,
        cheaper than a TRUNCATE per flush)."""
        if not rows:
            return []
        columns = ", ".join(COLUMNS)
        with self._db.cursor() as cursor:
            with cursor.copy(f"COPY {STAGING} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row.values()))
            cursor.execute(f"INSERT INTO records ({columns}) SELECT {columns} FROM {STAGING} "
                           "ON CONFLICT DO NOTHING RETURNING device, store, seq")
            inserted = set(cursor.fetchall())
        return [(row["device"], row["store"], row["seq"]) in inserted for row in rows]

    def _execute(self, sql: str, params: tuple = ()):
        return self._live().execute(sql, params)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        db = self._live()
        if self._staged is not db:      # a temporary table lives as long as its connection
            db.execute(_staging_table())
            self._staged = db
        with db.transaction():
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


STAGING = "records_staging"


def _staging_table() -> str:
    """The session's staging table for COPY: the records' columns and types, no keys."""
    types = {**_TYPES, "ts_s": "DOUBLE PRECISION"}
    columns = ", ".join(f"{name} {types.get(name, 'TEXT').removesuffix(' NOT NULL')}"
                        for name in COLUMNS)
    return (f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} ({columns}) "
            "ON COMMIT DELETE ROWS")
