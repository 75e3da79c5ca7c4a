"""What every district store does, in SQL both SQLite and PostgreSQL accept.

A batch is committed in one transaction and idempotently: a record already held (same
id at the same device, store and seq, and the same content in every wire field) counts as
accepted again, because its first ack may have been lost; a different record claiming a
taken id or seq, or the same id and seq with other content, is a conflict (logged, as
`event=record_conflict`, with the fields that differ). Store ids are kept and compared in
one form, `str(uuid.UUID(store))`. Values reach the store only in the types its columns
take (district/validate.py); should it refuse one all the same, only that record is
rejected (`store_refused`) and its neighbours are committed.
A backend supplies the connection: `_execute`, `_execute_many`, `_transaction`,
`_savepoint`, `close`, its placeholder, and `_data_error` (which failures are a refused
value); queries here are written with `?`.

Two stores at once. A device's store id changes when its database is recreated, and the
old store never sends again: that is a replacement. A store counts as live from its first
batch to its latest (by arrival at the district, in commit order); two stores of one device
are *at once* when their live spans overlap, i.e. when their batches interleave: a batch
arrives from store A after a batch of store B that came after A's previous batch
(A -> B is a replacement; A -> B -> A, or B -> A -> B, is two stores at once, as is
A -> B -> C -> A, which names all three). Arrival order is kept per device in
`device_stores.last_order` (1, 2, 3... over all the device's batches), not by clocks, so
batches in the same millisecond, or from receivers on hosts whose clocks differ, are still
ordered. A batch from a store not seen before is never a conflict. When a batch reveals
stores at once, the device's registry row gets `flag = 'two_stores'` and the stores
involved (`flag_stores`), kept until `clear_flag`; the batch is committed as usual.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from district.registry import device_fields, reader_state
from district.validate import canonical_store, record_problem
from models.records import FIELD_TYPES, OPTIONAL_FIELDS
from models.timefmt import parse_rfc3339, rfc3339
from runtime import logs

FIELDS = tuple(FIELD_TYPES)     # every wire field, the optional ones included
# Columns every backend creates; `ts_s` is `ts` as epoch seconds, for time windows.
COLUMNS = ("device", "store", *FIELDS, "ts_s", "batch", "received")
# A row is a tuple in COLUMNS order: made for every record received, and a dict of the
# 24 columns cost three times as much to make. These say where its keys are.
ROW_DEVICE, ROW_STORE, ROW_ID, ROW_SEQ = (COLUMNS.index(name)
                                          for name in ("device", "store", "id", "seq"))
_ROW_REASONS, _ROW_TEMPERATURE = COLUMNS.index("reasons"), COLUMNS.index("temperature_c")
INSERT = (f"INSERT INTO records ({', '.join(COLUMNS)}) "
          f"VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT DO NOTHING")
# The stores each device has used; both backends create it as written here.
DEVICE_STORES = """CREATE TABLE IF NOT EXISTS device_stores (
    device TEXT NOT NULL, store TEXT NOT NULL, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, batches BIGINT NOT NULL, last_order BIGINT NOT NULL,
    PRIMARY KEY (device, store))"""
DEVICE_STORES_INDEX = ("CREATE INDEX IF NOT EXISTS device_stores_order "
                       "ON device_stores (device, last_order)")
# A trace looks a card token up as it looks a subject up (PROTOCOL.md section 9). Made
# after the columns added since the first release, which a store made before has not yet.
CARD_INDEX = "CREATE INDEX IF NOT EXISTS records_card ON records (card, ts_s)"
FLAG_TWO_STORES = "two_stores"
# Count a flush's batches of one (device, store); last_order is the device's next.
COUNT_STORE = ("INSERT INTO device_stores (device, store, first_seen, last_seen, batches, "
               "last_order) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device, store) "
               "DO UPDATE SET last_seen = excluded.last_seen, "
               "batches = device_stores.batches + excluded.batches, "
               "last_order = excluded.last_order")
LOOKUP_CHUNK = 500      # devices a query names at most (SQLite's bound on parameters)
_TIED = object()        # several stores of a device at its highest last_order
# TEXT columns added to a table after its first release, by table.
ADDED_COLUMNS = {"records": OPTIONAL_FIELDS, "devices": ("flag", "flag_stores")}


def added_columns(existing: list[str], table: str = "records") -> list[str]:
    """ALTER statements for the columns a table made before them lacks."""
    if not existing:
        return []       # a new table is created with them
    return [f"ALTER TABLE {table} ADD COLUMN {name} TEXT" for name in ADDED_COLUMNS[table]
            if name not in existing]


class Outcome(NamedTuple):
    """What became of one batch: the ack's accepted seq ranges and rejected records, the
    records that were resends of held ones, and the stores it newly revealed at once."""
    accepted: list[list[int]]
    rejected: list[dict]
    duplicates: int
    conflict: list[str] | None


@dataclass
class Prepared:
    """One batch on its way into the store: checked, its rows made, nothing written."""
    device: str
    store: str
    received: str
    records: list
    problems: list[str | None]
    rows: dict[int, tuple] = field(default_factory=dict)    # index -> row, valid records
    refused: dict[int, BaseException] = field(default_factory=dict)  # the store's refusals
    inserted: set[int] = field(default_factory=set)
    held: dict[int, dict] = field(default_factory=dict)     # seq -> held wire fields
    conflict: list[str] | None = None

    def reset(self) -> None:
        """Forget a rolled-back attempt, to be committed again."""
        self.inserted, self.held, self.conflict = set(), {}, None


class DistrictStoreError(Exception):
    """The store cannot be opened; the message is meant for the user."""


class SqlStore:
    placeholder = "?"
    partitioned = False     # records partitioned by month (a PostgreSQL store may be)

    def __init__(self) -> None:
        self.duplicates = 0     # records received again and acked again, since opening
        # (device, stores) of each newly flagged conflict, since opening, oldest first
        self.conflicts: list[tuple[str, list[str]]] = []

    # -- supplied by the backend ------------------------------------------------------

    def _execute(self, sql: str, params: tuple = ()):
        raise NotImplementedError

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        """One statement for each row of parameters, in as few round trips as the
        backend can."""
        raise NotImplementedError

    def _transaction(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    def _savepoint(self) -> contextlib.AbstractContextManager:
        """A savepoint inside the open transaction, rolled back to on an exception; if that
        rollback fails, an error that is not a data error."""
        raise NotImplementedError

    def _data_error(self, exc: BaseException) -> bool:
        """Did the store refuse a value of one row, rather than fail as a whole (full
        disk, lost connection, lock timeout)?"""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------

    def _run(self, sql: str, params: tuple = ()):
        return self._execute(sql.replace("?", self.placeholder), params)

    def commit_batch(self, device: str, batch: dict) -> tuple[list[list[int]], list[dict]]:
        """Store a batch's valid records; returns (accepted seq ranges, rejected records)."""
        outcome = self.commit_batches([(device, batch)])[0]
        return outcome.accepted, outcome.rejected

    def commit_batches(self, batches: list[tuple[str, dict]]) -> list[Outcome]:
        """Store several batches, in arrival order, in one transaction; an Outcome per
        batch, in the same order."""
        return self.commit_prepared([self.prepare(device, batch) for device, batch in batches])

    def commit_prepared(self, prepared: list[Prepared]) -> list[Outcome]:
        """Store prepared batches, in arrival order, in one transaction: one insert for all
        their rows (the receiver coalesces what arrives together, district/ingest.py); an
        Outcome per batch, in the same order.

        Validation (district/validate.py) admits only values both stores take. Should the
        store still refuse a row (a data error, which a gap in validation would cause), the
        batches are done again one by one, and a batch that fails alone is done record by
        record, each in its own savepoint: only the rows refused again are rejected, as
        `store_refused`. Any other failure (a full disk, a lost server) raises: nothing is
        acked and the devices resend.
        """
        try:
            with self._transaction():
                self._commit_prepared(prepared, one_by_one=False)
        except Exception as exc:
            if not self._data_error(exc):
                raise
            for item in prepared:
                item.reset()
            if len(prepared) > 1:
                logs.event("batches_store_refused", logging.WARNING, batches=len(prepared),
                           error=_error(exc), then="batch by batch")
                return [self.commit_prepared([item])[0] for item in prepared]
            first = prepared[0]
            logs.event("batch_store_refused", logging.WARNING, device=first.device,
                       store=first.store, error=_error(exc), then="record by record")
            with self._transaction():
                self._commit_prepared(prepared, one_by_one=True)
        return [self._judge(item) for item in prepared]

    def sibling(self) -> SqlStore | None:
        """Another connection to this store, for a second writer thread
        (district/ingest.py), or None where a second one would only wait for the first:
        SQLite takes one writer at a time."""
        return None

    def prepare(self, device: str, batch: dict) -> Prepared:
        """A batch's records checked and made rows, its arrival time noted; nothing is
        written, and no connection used, so the receiver's network thread does this while
        the writer waits on the database."""
        records = batch["records"]
        received = rfc3339(time.time())
        item = Prepared(device, canonical_store(batch["store"]), received, records,
                        [record_problem(record) for record in records])
        for index, (record, problem) in enumerate(zip(records, item.problems, strict=True)):
            if problem is None:
                try:
                    item.rows[index] = self._row(device, item.store, batch["batch"], record,
                                                 received)
                except (ValueError, TypeError, KeyError, OverflowError) as exc:
                    item.refused[index] = exc   # only if validation let a bad value through
        return item

    def _commit_prepared(self, prepared: list[Prepared], one_by_one: bool) -> None:
        """Inside the transaction: insert the rows, all at once or (one batch) one by one,
        then for each batch, in arrival order, read what is held at the seqs of its rows not
        inserted and count it in device_stores."""
        if one_by_one:
            item = prepared[0]
            item.inserted = self._insert_each(item.rows, item.refused)
        else:
            self._insert_all(prepared)
        # By device (stable: each device's batches keep their arrival order, all that its
        # clone check reads), so that receivers committing batches of the same devices at
        # once lock their device_stores rows in one order and never wait on each other in
        # a cycle (a deadlock costs a second and a retried flush).
        ordered = sorted(prepared, key=_device_of)
        for item in ordered:
            waiting = [row[ROW_SEQ] for index, row in item.rows.items()
                       if index not in item.inserted and index not in item.refused]
            item.held = self._held_rows(item.device, item.store, waiting) if waiting else {}
        # A run of batches of one device and store (a gate sending a decision a message
        # sends many a flush) is counted at once: the first batch of the run is the one
        # that can reveal a new store, and the rest find it the latest, as one by one.
        runs = [list(batches) for _, batches in itertools.groupby(ordered,
                                                                 key=_device_and_store)]
        for run, conflict in zip(runs, self._note_stores(runs), strict=True):
            run[0].conflict = conflict

    def _insert_all(self, prepared: list[Prepared]) -> None:
        """One insert for the rows of every batch. A row whose key (device, store, seq) or
        id an earlier row of these batches has is left out, so each key is inserted at most
        once and what was inserted is known by key; it is then judged against what the
        earlier row left, as a resend is."""
        keys: set[tuple[str, str, int]] = set()
        ids: set[str] = set()
        firsts: list[tuple[Prepared, int]] = []
        for item in prepared:
            for index, row in item.rows.items():
                key = (item.device, item.store, row[ROW_SEQ])
                if key not in keys and row[ROW_ID] not in ids:
                    keys.add(key)
                    ids.add(row[ROW_ID])
                    firsts.append((item, index))
        flags = self._insert_rows([item.rows[index] for item, index in firsts])
        for (item, index), new in zip(firsts, flags, strict=True):
            if new:
                item.inserted.add(index)

    def _judge(self, item: Prepared) -> Outcome:
        """A committed batch's accepted seqs and rejected records (with reasons)."""
        before = self.duplicates
        if item.conflict:
            self.conflicts.append((item.device, item.conflict))
        accepted: list[int] = []
        rejected: list[dict] = []
        for index, (record, problem) in enumerate(zip(item.records, item.problems,
                                                      strict=True)):
            if index in item.refused:
                problem = "store_refused"
                logs.event("store_refused", logging.WARNING, device=item.device,
                           store=item.store, seq=ascii(record.get("seq")),
                           error=_error(item.refused[index]))
            elif problem is None and index not in item.inserted:
                problem = self._duplicate_or_conflict(item.device, item.store,
                                                      as_fields(item.rows[index]),
                                                      item.held.get(record["seq"]))
            if problem:
                seq = record.get("seq") if isinstance(record, dict) else None
                rejected.append({"seq": seq, "reason": problem})
            else:
                accepted.append(record["seq"])
        return Outcome(seq_ranges(accepted), rejected, self.duplicates - before,
                       item.conflict)

    @staticmethod
    def _row(device: str, store: str, batch_id: str, record: dict, received: str) -> tuple:
        """The record as a row, values in COLUMNS order whatever order the JSON had, of
        the exact types the columns take (temperature_c a float, even if sent as an int).
        On the receiver's hot path: one row per record received."""
        values = [device, store]
        values += map(record.get, FIELDS)
        values[_ROW_REASONS] = _reasons_text(tuple(record["reasons"]))
        temperature = record["temperature_c"]
        if temperature is not None:
            values[_ROW_TEMPERATURE] = float(temperature)
        values += (parse_rfc3339(record["ts"]), batch_id, received)
        return tuple(values)

    def _insert_rows(self, rows: list[tuple]) -> list[bool]:
        """Insert what is not held yet; for each row, whether it was inserted now."""
        return [bool(self._run(INSERT, row).rowcount) for row in rows]

    def _insert_each(self, rows: dict[int, tuple],
                     refused: dict[int, BaseException]) -> set[int]:
        """Insert row by row, each in a savepoint; a row the store refuses with a data error
        goes into `refused` (index -> error) and the others stay. The indexes inserted."""
        inserted = set()
        for index, row in rows.items():
            try:
                with self._savepoint():
                    if self._held_elsewhere(row):
                        continue
                    if self._run(INSERT, row).rowcount:
                        inserted.add(index)
            except Exception as exc:
                if not self._data_error(exc):
                    raise
                refused[index] = exc
        return inserted

    def _held_elsewhere(self, row: tuple) -> bool:
        """Is the row's key or id held already where its unique keys do not look (a
        partitioned PostgreSQL table); not in a table whose keys say so themselves."""
        return False

    def _held_rows(self, device: str, store: str, seqs: list[int]) -> dict[int, dict]:
        """{seq: wire fields} of the records already held at these seqs of one device's
        store."""
        found = self._run(f"SELECT {', '.join(FIELDS)} FROM records WHERE device = ? "
                          f"AND store = ? AND seq IN ({', '.join('?' for _ in seqs)})",
                          (device, store, *seqs)).fetchall()
        return {data["seq"]: data for data in (dict(zip(FIELDS, row, strict=True))
                                               for row in found)}

    def _duplicate_or_conflict(self, device: str, store: str, row: dict,
                               held: dict | None) -> str | None:
        """None for a record held already with the same content (a resend whose ack was
        lost: counted in `duplicates`), else "conflict": another record holds its id or its
        seq, or this id and seq were held with other content. A conflict is logged, naming
        the fields that differ."""
        differ = ["id"] if held is None or held["id"] != row["id"] else [
            name for name in FIELDS if held[name] != row[name]      # 1 == True, for SQLite
            and _wire_value(name, held[name]) != _wire_value(name, row[name])]
        if not differ:
            self.duplicates += 1
            return None
        logs.event("record_conflict", logging.WARNING, device=device, store=store,
                   seq=row["seq"], id=row["id"], differ=differ)
        return "conflict"

    def _note_stores(self, runs: list[list[Prepared]]) -> list[list[str] | None]:
        """Count each run of batches of one device and store (in device order) in
        device_stores, as _note_store does; for each, the stores its first batch newly
        reveals at once, or None. One query reads the latest store of every device; a
        device with one run whose store is that latest (as nearly always) or that has none
        yet reveals nothing, and all of those are counted in one list of statements. The
        rest go one by one, in their place, so rows are still locked in device order.
        Two round trips a flush, where one by one cost two a device: a flush holds the
        locks that the next one waits for (district/ingest.py)."""
        latest = self._latest_stores(sorted({run[0].device for run in runs}))
        runs_of = collections.Counter(run[0].device for run in runs)
        conflicts: list[list[str] | None] = []
        counts: list[tuple] = []
        for run in runs:
            first = run[0]
            held = latest.get(first.device)
            if runs_of[first.device] == 1 and held is not _TIED and (
                    held is None or held[0] == first.store):
                counts.append((first.device, first.store, first.received, run[-1].received,
                               len(run), (held[1] if held else 0) + 1))
                conflicts.append(None)
                continue
            self._run_many(COUNT_STORE, counts)
            counts = []
            conflicts.append(self._note_store(first.device, first.store, first.received,
                                              run[-1].received, len(run)))
        self._run_many(COUNT_STORE, counts)
        return conflicts

    def _latest_stores(self, devices: list[str]) -> dict[str, tuple | object]:
        """{device: (store, last_order)} of each device's latest store, or _TIED where
        several share the highest last_order (after clear_flag); none for a new device."""
        latest: dict[str, tuple | object] = {}
        for at in range(0, len(devices), LOOKUP_CHUNK):
            chunk = devices[at:at + LOOKUP_CHUNK]
            for device, store, order in self._run(
                    "SELECT device, store, last_order FROM device_stores AS d WHERE device "
                    f"IN ({', '.join('?' for _ in chunk)}) AND last_order = (SELECT "
                    "MAX(last_order) FROM device_stores WHERE device = d.device)", tuple(chunk)):
                latest[device] = _TIED if device in latest else (store, order)
        return latest

    def _run_many(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self._execute_many(sql.replace("?", self.placeholder), rows)

    def _note_store(self, device: str, store: str, received: str, last_received: str,
                    batches: int) -> list[str] | None:
        """Count `batches` batches of `store` in device_stores, the first received at
        `received`, the last at `last_received`; the stores the first newly reveals at
        once with it (itself first, then the others by first batch), or None."""
        # Index lookups only (DEVICE_STORES_INDEX): a device that keeps sending from new
        # store ids must not make each of its batches cost more than the last.
        latest = self._run("SELECT store, last_order FROM device_stores WHERE device = ? "
                           "ORDER BY last_order DESC LIMIT 1", (device,)).fetchone()
        if latest is not None and latest[0] == store:   # as nearly always: one round trip
            mine, top, later = (latest[1],), latest[1], []
        else:
            mine = self._run("SELECT last_order FROM device_stores WHERE device = ? "
                             "AND store = ?", (device, store)).fetchone()
            top = latest[1] if latest is not None else 0
            later = [] if mine is None else [row[0] for row in self._run(
                "SELECT store FROM device_stores WHERE device = ? AND last_order > ? "
                "ORDER BY first_seen, store", (device, mine[0]))]
        self._run(COUNT_STORE, (device, store, received, last_received, batches, top + 1))
        if mine is None:
            return None     # a new store: a replacement, unless the old one sends again
        return self._flag(device, [store, *later], received) if later else None

    def _flag(self, device: str, stores: list[str], received: str) -> list[str] | None:
        """Flag the device for these stores at once; `stores` if that is news, else None.
        A device with no status yet gets a registry row (offline, status {})."""
        row = self._run("SELECT flag_stores FROM devices WHERE device = ?",
                        (device,)).fetchone()
        flagged = json.loads(row[0]) if row and row[0] else []
        if set(stores) <= set(flagged):
            return None
        union = flagged + [store for store in stores if store not in flagged]
        self._run("INSERT INTO devices (device, online, status, last_seen, flag, flag_stores) "
                  "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE "
                  "SET flag = excluded.flag, flag_stores = excluded.flag_stores",
                  (device, False, "{}", received, FLAG_TWO_STORES, json.dumps(union)))
        return stores

    def clear_flag(self, device: str) -> None:
        """An operator's all-clear: drop the flag and start the device's arrival order
        afresh, so the store that stays is not flagged again for the one that went."""
        with self._transaction():
            self._run("UPDATE devices SET flag = NULL, flag_stores = NULL WHERE device = ?",
                      (device,))
            self._run("UPDATE device_stores SET last_order = 0 WHERE device = ?", (device,))

    def record_status(self, device: str, status: dict) -> None:
        """The device's latest status (or last will) in the registry; a flag is kept."""
        with self._transaction():
            self._run("INSERT INTO devices (device, online, status, last_seen) "
                      "VALUES (?, ?, ?, ?) ON CONFLICT (device) DO UPDATE "
                      "SET online = excluded.online, status = excluded.status, "
                      "last_seen = excluded.last_seen",
                      (device, bool(status.get("online")), json.dumps(status),
                       rfc3339(time.time())))

    def devices(self) -> list[dict[str, Any]]:
        """The registry; `flag` is None or e.g. "two_stores", naming `flag_stores`;
        `reader` the card reader's state and backlog, oldest_unsynced, bundles, alarms and
        clone_flagged, each checked, from the latest status (district/registry.py)."""
        rows = self._run("SELECT device, online, status, last_seen, flag, flag_stores "
                         "FROM devices ORDER BY device").fetchall()
        registry = []
        for device, online, text, seen, flag, stores in rows:
            status = json.loads(text)
            registry.append({"device": device, "online": bool(online), "status": status,
                             "last_seen": seen, "flag": flag,
                             "flag_stores": json.loads(stores) if stores else [],
                             "reader": reader_state(status),
                             **device_fields(status, online=bool(online), flag=flag)})
        return registry

    def stores_of(self, device: str) -> list[dict[str, Any]]:
        """The stores a device has used, by first batch: first_seen, last_seen, batches."""
        names = ("store", "first_seen", "last_seen", "batches")
        rows = self._run(f"SELECT {', '.join(names)} FROM device_stores WHERE device = ? "
                         "ORDER BY first_seen, store", (device,))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored record by device, store and seq: section 4 fields, device and store."""
        for row in self._select("ORDER BY device, store, seq"):
            del row["ts_s"]
            yield row

    def visits(self, subject: str, since_s: float | None = None,
               until_s: float | None = None) -> list[dict[str, Any]]:
        """The records of a subject or of a card token (either column matches: both are
        pseudonymous 16-byte hex), oldest first, optionally within [since_s, until_s]."""
        low = float("-inf") if since_s is None else since_s
        high = float("inf") if until_s is None else until_s
        return list(self._select("WHERE (subject = ? OR card = ?) AND ts_s >= ? AND ts_s <= ? "
                                 "ORDER BY ts_s, device, seq", (subject, subject, low, high)))

    def at_gate(self, device: str, gate: str, start_s: float,
                end_s: float) -> list[dict[str, Any]]:
        """Every record of one device's gate between two times, oldest first."""
        return list(self._select("WHERE device = ? AND gate = ? AND ts_s >= ? AND ts_s <= ? "
                                 "ORDER BY ts_s, seq", (device, gate, start_s, end_s)))

    def visits_around(self, subject: str, since_s: float | None, until_s: float | None,
                      window_s: float) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each visit (as `visits` has it) with every record of its device's gate within
        window_s of it, the visit itself included, oldest first: one query, one round trip,
        where a visit at a time and then its gate would cost a round trip a visit."""
        low = float("-inf") if since_s is None else since_s
        high = float("inf") if until_s is None else until_s
        names = ("device", "store", *FIELDS, "ts_s")
        near = ("subject", "card", "ts", "ts_s", "decision", "seq")
        # the constant bounds on o.ts_s let PostgreSQL prune o's partitions when planning;
        # LEFT JOIN keeps a visit with no gate name (which matches no neighbour)
        sql = (f"SELECT {', '.join('v.' + n for n in names)}, "
               f"{', '.join('o.' + n for n in near)} FROM records v LEFT JOIN records o "
               "ON o.device = v.device AND o.gate = v.gate "
               "AND o.ts_s >= v.ts_s - ? AND o.ts_s <= v.ts_s + ? "
               "AND o.ts_s >= ? AND o.ts_s <= ? "
               "WHERE (v.subject = ? OR v.card = ?) AND v.ts_s >= ? AND v.ts_s <= ? "
               "ORDER BY v.ts_s, v.device, v.seq, v.store, o.ts_s, o.seq")
        params = (window_s, window_s, low - window_s, high + window_s, subject, subject,
                  low, high)
        out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        last = None
        for row in self._run(sql, params):
            visit, other = row[:len(names)], row[len(names):]
            if visit != last:
                out.append((_stored(names, visit), []))
                last = visit
            if other[3] is not None:
                out[-1][1].append(dict(zip(near, other, strict=True)))
        return out

    def _select(self, where: str, params: tuple = ()) -> Iterator[dict[str, Any]]:
        names = ("device", "store", *FIELDS, "ts_s")
        for row in self._run(f"SELECT {', '.join(names)} FROM records {where}", params):
            yield _stored(names, row)

    def count(self) -> int:
        return self._run("SELECT COUNT(*) FROM records").fetchone()[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_fields(row: tuple) -> dict[str, Any]:
    """A row (SqlStore._row) by column name."""
    return dict(zip(COLUMNS, row, strict=True))


def _stored(names: tuple[str, ...], values) -> dict[str, Any]:
    """A selected records row as wire fields (reasons a list, clock_synced a bool)."""
    data = dict(zip(names, values, strict=True))
    data["reasons"] = json.loads(data["reasons"])
    data["clock_synced"] = bool(data["clock_synced"])
    return data


def _wire_value(name: str, value):
    """A stored or incoming column value as the wire has it, for comparing the two."""
    if name == "reasons":
        return json.loads(value) if isinstance(value, str) else value
    if name == "clock_synced":
        return bool(value)      # SQLite keeps 0 / 1
    return value


@functools.lru_cache(maxsize=256)
def _reasons_text(reasons: tuple) -> str:
    """A record's reasons as stored (JSON): a gate's decisions use a handful of
    combinations, so each is written once, not once per record."""
    return json.dumps(list(reasons))


def _error(exc: BaseException) -> str:
    """An exception for a log line: its type and the start of its message, in ASCII."""
    return ascii(f"{type(exc).__name__}: {exc}")[1:-1][:200]


def seq_ranges(seqs: list[int]) -> list[list[int]]:
    """[1, 2, 3, 5] -> [[1, 3], [5, 5]]."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _device_of(item: Prepared) -> str:
    return item.device


def _device_and_store(item: Prepared) -> tuple[str, str]:
    return item.device, item.store
