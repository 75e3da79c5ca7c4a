"""The district's SQLite store: every record every device delivered, once, and the devices.

A batch is committed in one transaction and idempotently: a record already held (same
id at the same device, store and seq) counts as accepted again, because its first ack
may have been lost; a different record claiming a taken id or seq is a conflict.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from district.validate import FIELD_TYPES, record_problem
from models.timefmt import rfc3339

FIELDS = tuple(FIELD_TYPES)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    row INTEGER PRIMARY KEY,
    device TEXT NOT NULL, store TEXT NOT NULL,
    {", ".join(f"{name} {'REAL' if name == 'temperature_c' else 'TEXT'}"
               for name in FIELDS if name not in ("seq", "clock_synced"))},
    seq INTEGER NOT NULL, clock_synced INTEGER NOT NULL,
    batch TEXT NOT NULL, received TEXT NOT NULL,
    UNIQUE (id), UNIQUE (device, store, seq)
);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, online INTEGER NOT NULL, status TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
"""


class DistrictStoreError(Exception):
    """The store cannot be opened; the message is meant for the user."""


class DistrictStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")   # an ack promises the row is on disk
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DistrictStoreError(f"district store {self.path}: {exc}") from None
        self.duplicates = 0     # records received again and acked again, since opening

    def commit_batch(self, device: str, batch: dict) -> tuple[list[list[int]], list[dict]]:
        """Store a batch's valid records; returns (accepted seq ranges, rejected records)."""
        accepted: list[int] = []
        rejected: list[dict] = []
        with self._transaction():
            for record in batch["records"]:
                reason = record_problem(record) or self._insert(device, batch, record)
                if reason:
                    seq = record.get("seq") if isinstance(record, dict) else None
                    rejected.append({"seq": seq, "reason": reason})
                else:
                    accepted.append(record["seq"])
        return seq_ranges(accepted), rejected

    def _insert(self, device: str, batch: dict, record: dict) -> str | None:
        """Insert one valid record; None when stored (now or before), else "conflict"."""
        row = {**record, "reasons": json.dumps(record["reasons"]),
               "clock_synced": int(record["clock_synced"]), "device": device,
               "store": batch["store"], "batch": batch["batch"],
               "received": rfc3339(time.time())}
        inserted = self._db.execute(
            f"INSERT OR IGNORE INTO records ({', '.join(row)}) "
            f"VALUES ({', '.join('?' for _ in row)})", tuple(row.values())).rowcount
        if inserted:
            return None
        held = self._db.execute(
            "SELECT id FROM records WHERE device = ? AND store = ? AND seq = ?",
            (device, batch["store"], record["seq"])).fetchone()
        if held and held[0] == record["id"]:
            self.duplicates += 1
            return None
        return "conflict"

    def record_status(self, device: str, status: dict) -> None:
        """The device's latest status (or last will) in the registry."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO devices VALUES (?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET "
                "online = excluded.online, status = excluded.status, "
                "last_seen = excluded.last_seen",
                (device, int(bool(status.get("online"))), json.dumps(status),
                 rfc3339(time.time())))

    def devices(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT device, online, status, last_seen FROM devices "
                                "ORDER BY device")
        return [{"device": d, "online": bool(o), "status": json.loads(s), "last_seen": seen}
                for d, o, s, seen in rows]

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored record by device, store and seq: section 4 fields, device and store."""
        names = ("device", "store", *FIELDS)
        for row in self._db.execute(f"SELECT {', '.join(names)} FROM records "
                                   "ORDER BY device, store, seq"):
            data = dict(zip(names, row, strict=True))
            data["reasons"] = json.loads(data["reasons"])
            data["clock_synced"] = bool(data["clock_synced"])
            yield data

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

    def __enter__(self) -> DistrictStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def seq_ranges(seqs: list[int]) -> list[list[int]]:
    """[1, 2, 3, 5] -> [[1, 3], [5, 5]]."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges
