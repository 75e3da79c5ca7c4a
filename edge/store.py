"""The device's SQLite store: every decision, kept until the district acknowledges it.

Append-only records with a `seq` that is never reused (AUTOINCREMENT survives deletes),
WAL with synchronous=FULL so a committed decision survives a power cut, and numbered
schema migrations from the first version on. Only the controller writes records.

Under stress: retention deletes only acknowledged records; a full disk fails one commit
(StoreFull) and leaves everything committed before intact; a corrupt file found at
opening is renamed aside, kept for inspection, and a new store (new store id) started.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.records import OPTIONAL_FIELDS, STORED, Record
from models.safejson import valid_text
from models.timefmt import rfc3339
from runtime import logs, sqlite

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
    # Cards (PROTOCOL.md section 9): the tapped card's token, never its number.
    """
    ALTER TABLE records ADD COLUMN card TEXT;
    ALTER TABLE records ADD COLUMN card_kind TEXT;
    """,
)


PRUNE_CHUNK = 500       # rows per retention transaction, so a scan never waits long


class StoreError(Exception):
    """The store cannot be opened or written; the message is meant for the user."""


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full: this record was not stored."""


class Store:
    def __init__(self, path: Path, *, recover: bool = False) -> None:
        """Open (or create) the store. With `recover` (the agent's own store only), a
        corrupt file is moved aside and a new store started; otherwise it is a StoreError."""
        self.path = Path(path)
        self.alarm: str | None = None   # "disk_full" / "store_failing" while commits fail
        self._unstored_passes: set[str] = set()     # replay memory that missed the disk
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._open()
            except sqlite3.DatabaseError as exc:
                damaged = sqlite.errorcode(exc) in (sqlite.SQLITE_CORRUPT, sqlite.SQLITE_NOTADB)
                if not (recover and damaged):
                    raise
                self._move_aside(str(exc))
                self._open()
            self.store_id = self._store_id()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"store {self.path}: {exc}") from None

    def _open(self) -> None:
        self._db = sqlite.connect(self.path)
        try:
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise _corrupt("; ".join(problems))
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _move_aside(self, problem: str) -> None:
        """Keep the damaged file (and its WAL) under a dated name; never delete it."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        number = 1
        while kept.exists():    # a second one within the second must not overwrite
            number += 1
            kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{number}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.rename(f"{kept}{suffix}")
        logs.event("store_corrupt", logging.ERROR, path=self.path, problem=problem,
                   kept_as=kept, note="a new store was started; the old file is kept")

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
        row = {name: _storable(value) for name, value in record.to_wire().items()}
        row["reasons"] = json.dumps(row["reasons"])
        row["clock_synced"] = int(row["clock_synced"])
        del row["seq"]
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            with sqlite.transaction(self._db):
                seq = self._db.execute(f"INSERT INTO records ({names}) VALUES ({marks})",
                                       tuple(row.values())).lastrowid
                if passed:
                    self._db.execute("INSERT OR REPLACE INTO passed VALUES (?, ?, ?)",
                                     (*passed, seq))
        except sqlite3.IntegrityError:
            raise       # a program error (a reused id), not a state of the disk
        except sqlite3.DatabaseError as exc:
            if passed:      # a replayed pass must still be caught while writes fail
                self._unstored_passes.add(passed[0])
            full = sqlite.errorcode(exc) == sqlite.SQLITE_FULL
            self.alarm = "disk_full" if full else "store_failing"
            raise (StoreFull if full else StoreError)(f"store {self.path}: {exc}") from None
        self.alarm = None
        return seq

    def has_passed(self, cti: str) -> bool:
        """Did this pass id already produce a pass here?"""
        if cti in self._unstored_passes:
            return True
        found = self._db.execute("SELECT 1 FROM passed WHERE cti = ?", (cti,)).fetchone()
        return found is not None

    def prune(self, retention_days: int, now: float) -> int:
        """Delete acknowledged records older than `retention_days`; returns how many.

        Unacknowledged records are never deleted, whatever their age. Replay memory of
        passes expired for as long goes too: an expired pass is refused on its own.
        """
        oldest = now - retention_days * 86400
        deleted = 0
        try:
            while removed := self._prune_chunk(rfc3339(oldest)):
                deleted += removed
            with sqlite.transaction(self._db):
                self._db.execute("DELETE FROM passed WHERE exp < ?", (int(oldest),))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: retention after {deleted} "
                             f"deleted: {exc}") from None
        return deleted

    def _prune_chunk(self, cutoff: str) -> int:
        with sqlite.transaction(self._db):
            return self._db.execute(
                "DELETE FROM records WHERE seq IN (SELECT seq FROM records "
                "WHERE synced = 1 AND ts < ? ORDER BY seq LIMIT ?)",
                (cutoff, PRUNE_CHUNK)).rowcount

    def records(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Every record in seq order (optionally from time `since` on), with `synced`."""
        query = f"SELECT {', '.join(STORED)}, synced FROM records"
        params: tuple = ()
        if since:
            query += " WHERE ts >= ?"
            params = (since,)
        for row in self._db.execute(query + " ORDER BY seq", params):
            yield _row_to_dict(row)

    def unsynced(self, limit: int, after_seq: int = 0) -> list[dict[str, Any]]:
        """Up to `limit` records the district has not acknowledged, oldest first."""
        query = (f"SELECT {', '.join(STORED)}, synced FROM records "
                 "WHERE synced = 0 AND seq > ? ORDER BY seq LIMIT ?")
        return [_row_to_dict(row) for row in self._db.execute(query, (after_seq, limit))]

    def mark_synced(self, first_seq: int, last_seq: int) -> int:
        """Mark an acknowledged range of seq as delivered; returns how many rows changed."""
        with sqlite.transaction(self._db):
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

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _corrupt(problem: str) -> sqlite3.DatabaseError:
    error = sqlite3.DatabaseError(f"integrity check failed: {problem}")
    error.sqlite_errorcode = sqlite.SQLITE_CORRUPT
    return error


_ROW_KEYS = (*STORED, "synced")


def _row_to_dict(row: tuple) -> dict[str, Any]:
    """A stored row as its wire fields (models/records.py wire_fields: the optional ones
    only when set, in STORED order) plus `synced`. On the drain's hot path: one dict built,
    and the few distinct reason lists parsed once each."""
    data = {key: value for key, value in zip(_ROW_KEYS, row, strict=True)
            if value is not None or key not in OPTIONAL_FIELDS}
    data["reasons"] = list(_reasons(data["reasons"]))
    data["clock_synced"] = bool(data["clock_synced"])
    data["synced"] = bool(data["synced"])
    return data


@functools.lru_cache(maxsize=256)
def _reasons(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _storable(value):
    """A value as SQLite and the district can hold it, so the record is kept rather than
    lost to an encoding error: a lone surrogate, which Python text may carry (a guard's
    note, a pass field) but UTF-8 cannot, becomes U+FFFD; a NaN or infinite number, null."""
    if isinstance(value, str) and not valid_text(value):
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    if isinstance(value, float) and not math.isfinite(value):
        return None     # not JSON: the district would refuse the whole batch
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value
