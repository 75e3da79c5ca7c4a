"""The district store on PostgreSQL (`[store] url = "postgresql://..."`), for a district that
outgrows one machine: several receivers on several hosts commit into one database.

Same tables and the same logic as SQLite (district/stores/sql.py). Receivers that commit
overlapping batches at once are kept apart by the unique constraints (an insert waits for
the other transaction, then does nothing); a deadlock between them is retried.
A new store keeps `records` partitioned by calendar month of `ts_s` (district/stores/
partitions.py, docs/district.md section 9); one made before is used as it is.
Needs psycopg 3 (`pip install checkpoint[district-pg]`), imported only here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from district.stores import partitions as monthly
from district.stores.sql import (
    CARD_INDEX,
    COLUMNS,
    DEVICE_STORES,
    DEVICE_STORES_INDEX,
    FIELDS,
    ROW_DEVICE,
    ROW_ID,
    ROW_SEQ,
    ROW_STORE,
    DistrictStoreError,
    Outcome,
    Prepared,
    SqlStore,
    added_columns,
)

_TYPES = {"temperature_c": "DOUBLE PRECISION", "seq": "BIGINT NOT NULL",
          "clock_synced": "BOOLEAN NOT NULL", "id": "TEXT NOT NULL"}
_RECORD_COLUMNS = ("device TEXT NOT NULL, store TEXT NOT NULL, "
                   + ", ".join(f"{name} {_TYPES.get(name, 'TEXT')}" for name in FIELDS)
                   + ", ts_s DOUBLE PRECISION NOT NULL, batch TEXT NOT NULL, "
                     "received TEXT NOT NULL")
# A store made before partitioning (section 9 of docs/district.md): kept as it is.
PLAIN_RECORDS = f"""CREATE TABLE IF NOT EXISTS records (
        row BIGSERIAL PRIMARY KEY, {_RECORD_COLUMNS},
        UNIQUE (id), UNIQUE (device, store, seq))"""
# A new store: by calendar month (UTC) of ts_s. PostgreSQL wants the partition key in every
# unique key, so a resend at another ts_s would not meet these; _insert_rows looks the
# held (device, store, seq) and id up without it (PARTITIONED_INSERT).
PARTITIONED_RECORDS = [
    f"""CREATE TABLE records (
        row BIGSERIAL, {_RECORD_COLUMNS},
        PRIMARY KEY (row, ts_s), UNIQUE (id, ts_s), UNIQUE (device, store, seq, ts_s))
        PARTITION BY RANGE (ts_s)""",
    "CREATE TABLE records_default PARTITION OF records DEFAULT",
]
SCHEMA = [
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

    def __init__(self, url: str, partitioned: bool = True) -> None:
        """`partitioned`: make a new store's records partitioned by month (an existing
        table is used as it is, either way; `self.partitioned` says which it is)."""
        super().__init__()
        self.url = url
        self._make_partitioned = partitioned
        self.partitioned = False
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
            if db.execute("SELECT to_regclass('records')").fetchone()[0] is not None:
                pass
            elif self._make_partitioned:
                for statement in PARTITIONED_RECORDS:
                    db.execute(statement)
            else:
                db.execute(PLAIN_RECORDS)
            self.partitioned = monthly.is_partitioned(db)
            if self.partitioned:
                monthly.create_months(db, monthly.DEFAULT_AHEAD)
                _make_store_seqs(db)
            for statement in SCHEMA:
                db.execute(statement)
            for table in ("records", "devices"):
                for statement in added_columns(_columns(db, table), table):
                    db.execute(statement)
            db.execute(CARD_INDEX)
        return db

    def sibling(self) -> PgDistrictStore:
        """A connection of its own to the same database: PostgreSQL runs one flush's
        insert while the other writer thread copies the next one in."""
        return PgDistrictStore(self.url, partitioned=self._make_partitioned)

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

    def _insert_rows(self, rows: list[tuple]) -> list[bool]:
        """COPY into the connection's staging table, then one INSERT ... SELECT that skips
        what is held already: a few round trips for any number of rows, where a pipelined
        INSERT per row spent half the receiver's time. The COPY is binary: psycopg packs
        each value as it is, for a third of the CPU that formatting it as text took. The
        rows' keys (device, store, seq) are distinct (SqlStore._insert_all), so RETURNING
        them says which went in. (Not sorted by key: only two receivers inserting the
        same resent rows at once can deadlock, which is retried, and sorting every flush
        cost a fifth of the insert.)
        The staging table empties itself at commit or rollback (ON COMMIT DELETE ROWS,
        cheaper than a TRUNCATE per flush)."""
        if not rows:
            return []
        columns = ", ".join(COLUMNS)
        with self._db.cursor() as cursor:
            with cursor.copy(f"COPY {STAGING} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(STAGING_TYPES)
                for row in rows:
                    copy.write_row(row)
            if self.partitioned:
                cursor.execute(PARTITIONED_LOCKS)
                cursor.execute(PARTITIONED_INSERT)
            else:
                cursor.execute(f"INSERT INTO records ({columns}) SELECT {columns} "
                               f"FROM {STAGING} ON CONFLICT DO NOTHING "
                               "RETURNING device, store, seq")
            # As nearly always, every row went in: the returned keys need not be read.
            inserted = None if cursor.rowcount == len(rows) else set(cursor.fetchall())
            if self.partitioned:
                cursor.execute(RAISE_STORE_SEQS)
        if inserted is None:
            return [True] * len(rows)
        return [(row[ROW_DEVICE], row[ROW_STORE], row[ROW_SEQ]) in inserted for row in rows]

    def _held_elsewhere(self, row: tuple) -> bool:
        """Partitioned: is the row's (device, store, seq) or id held already, at any ts_s?
        (The one-by-one path; the unique keys alone would let it in at another ts_s.)"""
        if not self.partitioned:
            return False
        device, store, seq = row[ROW_DEVICE], row[ROW_STORE], row[ROW_SEQ]
        self._db.execute(f"SELECT {_KEY_LOCK}", (device, store))
        self._db.execute(RAISE_STORE_SEQ, (device, store, seq))
        return self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM records WHERE device = %s AND store = %s "
            "AND seq = %s) OR EXISTS (SELECT 1 FROM records WHERE id = %s)",
            (device, store, seq, row[ROW_ID])).fetchone()[0]

    def partitions(self, ahead: int = monthly.DEFAULT_AHEAD,
                   retention_days: int | None = None,
                   now_s: float | None = None) -> list[dict]:
        """Make this month's partition and `ahead` more, drop the months older than
        `retention_days` (None: none), in one transaction; a dict per partition, with
        its action (created, dropped, kept). DistrictStoreError if records is not
        partitioned (a store made before partitioning: docs/district.md section 9)."""
        if not self.partitioned:
            raise DistrictStoreError("the records table is not partitioned (made before "
                                     "partitioning; docs/district.md section 9 moves it)")
        db = self._live()
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            made = monthly.create_months(db, ahead, now_s)
            done = {entry["partition"]: entry for entry in made
                    if entry["action"] == "created"}
            for entry in monthly.drop_older(db, retention_days, now_s):
                done.setdefault(entry["partition"], entry)
        return sorted(done.values(), key=lambda e: (e["from"] is None, e["from"] or ""))

    def explain(self, call) -> str:
        """The plan of the last statement `call()` runs (e.g. a trace's visits query), as
        PostgreSQL's EXPLAIN text, with the parameters it ran with: for the benchmark and
        the tests of partition pruning."""
        ran: list[tuple[str, tuple]] = []
        execute = self._execute
        self._execute = lambda sql, params=(): ran.append((sql, params)) or execute(sql, params)
        try:
            call()
        finally:
            del self._execute
        sql, params = ran[-1]
        return "\n".join(row[0] for row in self._live().execute(f"EXPLAIN {sql}", params))

    def _execute(self, sql: str, params: tuple = ()):
        return self._live().execute(sql, params)

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        """psycopg pipelines the statements: one round trip for all of them."""
        with self._live().cursor() as cursor:
            cursor.executemany(sql, rows)

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
# One lock per (device, store) of the rows, taken in order, held to commit: two receivers
# inserting the same seq at different ts_s (which no unique key of a partitioned table
# refuses) wait for each other, and the second then finds the first's row held.
_KEY_LOCK = "pg_advisory_xact_lock(hashtextextended(%s || chr(31) || %s, 0))"
PARTITIONED_LOCKS = (
    "SELECT pg_advisory_xact_lock(key) FROM (SELECT DISTINCT "
    f"hashtextextended(device || chr(31) || store, 0) AS key FROM {STAGING}) AS keys "
    "ORDER BY key")
_COLUMNS = ", ".join(COLUMNS)
# The highest seq ever staged for each (device, store) of a partitioned store. A row above
# it cannot have its (device, store, seq) held at any ts, so only a row at or below it (a
# resend, a clone's copy) has that looked up in every partition (an index probe each).
# The id is looked up for every row, since an id is unique everywhere (PROTOCOL.md
# section 4: another record claiming it is a conflict). Raised in the transaction that
# stages the rows, under their (device, store) lock; never lowered (a higher value only
# means more lookups), and left as it is when old months are dropped.
STORE_SEQS = """CREATE TABLE IF NOT EXISTS store_seqs (
    device TEXT NOT NULL, store TEXT NOT NULL, max_seq BIGINT NOT NULL,
    PRIMARY KEY (device, store))"""
_RAISE = ("ON CONFLICT (device, store) DO UPDATE "
          "SET max_seq = GREATEST(store_seqs.max_seq, EXCLUDED.max_seq)")
RAISE_STORE_SEQS = (f"INSERT INTO store_seqs (device, store, max_seq) SELECT device, store, "
                    f"max(seq) FROM {STAGING} GROUP BY device, store {_RAISE}")
RAISE_STORE_SEQ = f"INSERT INTO store_seqs (device, store, max_seq) VALUES (%s, %s, %s) {_RAISE}"
# A row is left out when its id is held at any ts, or (only looked up for a seq not above
# the store's highest) its (device, store, seq) is. OFFSET 0 keeps each NOT EXISTS a probe
# of the key's index: as an anti join, PostgreSQL (knowing nothing of the never analyzed
# staging table) hashed every id of `records` for each flush, 65 ms at 100,000 records.
PARTITIONED_INSERT = (
    f"INSERT INTO records ({_COLUMNS}) SELECT {_COLUMNS} FROM {STAGING} AS s "
    "LEFT JOIN store_seqs AS q USING (device, store) "
    "WHERE (q.max_seq IS NULL OR s.seq > q.max_seq OR "
    "NOT EXISTS (SELECT 1 FROM records AS r WHERE r.device = s.device "
    "AND r.store = s.store AND r.seq = s.seq OFFSET 0)) "
    "AND NOT EXISTS (SELECT 1 FROM records AS r WHERE r.id = s.id OFFSET 0) "
    "ON CONFLICT DO NOTHING RETURNING device, store, seq")


def _make_store_seqs(db) -> None:
    """Make store_seqs; a partitioned store that holds records from before it has their
    highest seqs filled in at once (one scan, when the table is made)."""
    if db.execute("SELECT to_regclass('store_seqs')").fetchone()[0] is not None:
        return
    db.execute(STORE_SEQS)
    db.execute("INSERT INTO store_seqs (device, store, max_seq) SELECT device, store, "
               "max(seq) FROM records GROUP BY device, store")


# The staging table's column types, in COLUMNS order: the records' types, no NOT NULL.
STAGING_TYPES = [{**_TYPES, "ts_s": "DOUBLE PRECISION"}.get(name, "TEXT")
                 .removesuffix(" NOT NULL").lower() for name in COLUMNS]


def _staging_table() -> str:
    """The session's staging table for COPY: the records' columns and types, no keys."""
    columns = ", ".join(f"{name} {kind}" for name, kind in zip(COLUMNS, STAGING_TYPES,
                                                                strict=True))
    return (f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} ({columns}) "
            "ON COMMIT DELETE ROWS")
