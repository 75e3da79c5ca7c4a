"""The outbox as batches: which unacknowledged records go next, and what an ack settles.

Pure bookkeeping over the store, no network: the sync worker owns one Outbox and calls it
from its own thread. Batches hold up to 200 records or 64 KiB of JSON, compressed above
1 KiB (PROTOCOL.md section 5). A record the district rejects stays unsynced in the store
and is offered again after a growing pause (Outbox).
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from dataclasses import dataclass

from edge.store import Store, StoreError
from models.wire import CONTENT_JSON, CONTENT_ZLIB, SCHEMA_ACK, SCHEMA_BATCH
from runtime import logs

MAX_RECORDS = 200
MAX_BATCH_BYTES = 64 * 1024
COMPRESS_ABOVE = 1024
ENVELOPE_ROOM = 512     # bytes kept for the envelope around the records


@dataclass
class Batch:
    batch_id: str
    seqs: list[int]
    payload: bytes
    content_type: str
    attempts: int = 0
    due: float = 0.0        # monotonic time of the next (re)send


def encode_batch(device: str, store_id: str, records: list[dict], sent: str) -> Batch:
    """The batch envelope as bytes, zlib-compressed when that is worth it."""
    return batch_of_texts(device, store_id, [record_text(r) for r in records],
                          [r["seq"] for r in records], sent)


def record_text(record: dict) -> str:
    """A record's JSON as it goes into a batch."""
    return _COMPACT.encode(record)


# One encoder for every record: json.dumps with options builds a new one per call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def batch_of_texts(device: str, store_id: str, texts: list[str], seqs: list[int],
                   sent: str) -> Batch:
    """The batch envelope around records already written as JSON (record_text): each
    record is encoded once, for its size and for the batch."""
    batch_id = str(uuid.uuid4())
    head = json.dumps({"schema": SCHEMA_BATCH, "device": device, "store": store_id,
                       "batch": batch_id, "sent": sent},
                      separators=(",", ":"), ensure_ascii=False)
    body = (head[:-1] + ',"records":[' + ",".join(texts) + "]}").encode()
    if len(body) > COMPRESS_ABOVE:
        return Batch(batch_id, seqs, zlib.compress(body), CONTENT_ZLIB)
    return Batch(batch_id, seqs, body, CONTENT_JSON)


class Outbox:
    """Batches in flight and what the district's acks settle.

    An ack arrives on a channel anyone on the broker may write to, so it settles nothing
    unless it names a batch in flight, this store, and only that batch's seqs
    (`ack_problem`); anything else is logged (`ack_ignored`) and changes nothing. A record
    the district rejects is held back and offered again after a pause that doubles per
    rejection, from `retry_s` up to `max_retry_s`: a real rejection costs a resend every
    few minutes, and a forged one cannot hold a record back past its next resend.
    """

    def __init__(self, store: Store, device: str, *, retry_s: float = 30.0,
                 max_retry_s: float = 300.0) -> None:
        self.store = store
        self.device = device
        self.retry_s, self.max_retry_s = retry_s, max_retry_s
        self.in_flight: dict[str, Batch] = {}
        self.held: dict[int, float] = {}        # rejected seq -> when it goes again
        self.rejections: dict[int, int] = {}    # seq -> times rejected, until accepted
        self.acks_ignored = 0
        self._cursor = 0        # highest seq already put in a batch since start

    def next_batch(self, sent: str, now: float = 0.0) -> Batch | None:
        """A new batch of the records after the cursor, now in flight; None if none wait.
        `now` (monotonic) releases the held records that are due."""
        self._release(now)
        records = self._next_records()
        if not records:
            return None
        batch = batch_of_texts(self.device, self.store.store_id, [t for _, t in records],
                               [seq for seq, _ in records], sent)
        self.in_flight[batch.batch_id] = batch
        return batch

    def _release(self, now: float) -> None:
        due = [seq for seq, when in self.held.items() if when <= now]
        for seq in due:
            del self.held[seq]
        if due:
            self._cursor = min(self._cursor, min(due) - 1)

    def _next_records(self) -> list[tuple[int, str]]:
        """(seq, JSON) of the next records to send, up to a batch's count and size."""
        flying = {seq for batch in self.in_flight.values() for seq in batch.seqs}
        chosen: list[tuple[int, str]] = []
        size = ENVELOPE_ROOM
        while len(chosen) < MAX_RECORDS:
            page = self.store.unsynced(MAX_RECORDS - len(chosen), after_seq=self._cursor)
            if not page:
                break
            for row in page:
                del row["synced"]       # local state, not part of the wire record
                seq = row["seq"]
                if seq not in flying and seq not in self.held:
                    text = record_text(row)
                    size += len(text.encode()) + 1
                    if chosen and size > MAX_BATCH_BYTES:
                        return chosen
                    chosen.append((seq, text))
                self._cursor = seq
        return chosen

    def settle(self, ack, now: float = 0.0) -> int:
        """Apply a district ack; returns how many records it marked synced."""
        named = ack.get("batch") if isinstance(ack, dict) else None
        batch = self.in_flight.get(named) if isinstance(named, str) else None
        problem = ack_problem(ack, self.store.store_id, batch)
        if problem:
            self.acks_ignored += 1
            if logs.worth_logging(self.acks_ignored):
                logs.event("ack_ignored", logging.WARNING, reason=problem,
                           ignored=self.acks_ignored)
            return 0
        accepted = [(first, last) for first, last in ack["accepted"]]
        rejected = {item["seq"]: _short(item.get("reason")) for item in ack["rejected"]}
        marked = sum(self.store.mark_synced(first, last) for first, last in accepted)
        for seq, reason in rejected.items():
            logs.event("record_rejected", logging.WARNING, seq=seq, reason=reason)
            count = self.rejections[seq] = self.rejections.get(seq, 0) + 1
            self.held[seq] = now + min(self.retry_s * 2 ** min(count - 1, 16),
                                       self.max_retry_s)
        for seq in batch.seqs:
            if seq not in rejected:
                self.rejections.pop(seq, None)
        self._forget(batch, accepted, rejected)
        logs.event("batch_acked", batch=batch.batch_id, synced=marked, rejected=len(rejected))
        return marked

    def _forget(self, batch: Batch, accepted: list[tuple[int, int]],
                rejected: dict[int, str]) -> None:
        del self.in_flight[batch.batch_id]
        skipped = [s for s in batch.seqs if s not in rejected
                   and not any(a <= s <= b for a, b in accepted)]
        if skipped:     # the district left some out: they go again in a later batch
            self._cursor = min(self._cursor, min(skipped) - 1)


def ack_problem(ack, store_id: str, batch: Batch | None) -> str | None:
    """None for an ack that settles `batch` (the in-flight batch it names), else why not."""
    if not isinstance(ack, dict) or ack.get("schema") != SCHEMA_ACK:
        return "unknown_schema"
    if not _same_store(ack.get("store"), store_id):
        return "other_store"        # also an ack meant for an earlier database
    if batch is None:
        return "unknown_batch"      # never sent, or settled already (an ack sent twice)
    accepted, rejected = ack.get("accepted"), ack.get("rejected", [])
    if not isinstance(accepted, list) or not isinstance(rejected, list):
        return "bad_ranges"
    seqs = set(batch.seqs)
    covered: set[int] = set()
    for pair in accepted:
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_seq(n) for n in pair)):
            return "bad_ranges"
        first, last = pair
        if not first <= last or last - first >= len(seqs) or \
                any(n not in seqs for n in range(first, last + 1)):
            return "beyond_batch"
        covered.update(range(first, last + 1))
    for item in rejected:
        if not isinstance(item, dict) or not _is_seq(item.get("seq")):
            return "bad_rejected"
        if item["seq"] not in seqs or item["seq"] in covered:
            return "beyond_batch"
    return None


def _is_seq(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _same_store(value, store_id: str) -> bool:
    """Store ids compared in one canonical form (lowercase, hyphenated)."""
    try:
        return str(uuid.UUID(value)) == str(uuid.UUID(store_id))
    except (TypeError, ValueError, AttributeError):
        return False


def _short(reason) -> str:
    """A district's reason code as the log may show it."""
    text = reason if isinstance(reason, str) else repr(reason)
    return text[:64]


class Retention:
    """Deletes acknowledged records older than `days` (None: never), every `every_s`.

    Unacknowledged records are never deleted (edge/store.py); a pass that fails, a full
    disk say, is logged and tried again at the next turn.
    """

    def __init__(self, days: int | None, every_s: float, clock) -> None:
        self.days, self.every_s, self.clock = days, every_s, clock
        self._due = 0.0

    def run_if_due(self, store: Store) -> None:
        if self.days is None or self.clock.monotonic() < self._due:
            return
        self._due = self.clock.monotonic() + self.every_s
        try:
            deleted = store.prune(self.days, self.clock.now())
        except StoreError as exc:
            logs.event("prune_failed", logging.WARNING, error=str(exc))
            return
        if deleted:
            logs.event("records_pruned", count=deleted, retention_days=self.days)
