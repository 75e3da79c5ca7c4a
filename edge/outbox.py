"""The outbox as batches: which unacknowledged records go next, and what an ack settles.

Pure bookkeeping over the store, no network: the sync worker owns one Outbox and calls it
from its own thread. Batches hold up to 200 records or 64 KiB of JSON, compressed above
1 KiB (PROTOCOL.md section 5). A record the district rejects stays unsynced in the store
but is skipped until the agent restarts, so a record the district will never take does
not make the device resend it forever; the restart gives it one more chance.
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
    batch_id = str(uuid.uuid4())
    body = json.dumps({"schema": SCHEMA_BATCH, "device": device, "store": store_id,
                       "batch": batch_id, "sent": sent, "records": records},
                      separators=(",", ":"), ensure_ascii=False).encode()
    seqs = [r["seq"] for r in records]
    if len(body) > COMPRESS_ABOVE:
        return Batch(batch_id, seqs, zlib.compress(body), CONTENT_ZLIB)
    return Batch(batch_id, seqs, body, CONTENT_JSON)


class Outbox:
    def __init__(self, store: Store, device: str) -> None:
        self.store = store
        self.device = device
        self.in_flight: dict[str, Batch] = {}
        self.rejected: set[int] = set()
        self._cursor = 0        # highest seq already put in a batch since start

    def next_batch(self, sent: str) -> Batch | None:
        """A new batch of the records after the cursor, now in flight; None if none wait."""
        records = self._next_records()
        if not records:
            return None
        batch = encode_batch(self.device, self.store.store_id, records, sent)
        self.in_flight[batch.batch_id] = batch
        return batch

    def _next_records(self) -> list[dict]:
        chosen: list[dict] = []
        size = ENVELOPE_ROOM
        while len(chosen) < MAX_RECORDS:
            page = self.store.unsynced(MAX_RECORDS - len(chosen), after_seq=self._cursor)
            if not page:
                break
            for row in page:
                del row["synced"]       # local state, not part of the wire record
                if row["seq"] not in self.rejected:
                    size += len(json.dumps(row, ensure_ascii=False).encode()) + 1
                    if chosen and size > MAX_BATCH_BYTES:
                        return chosen
                    chosen.append(row)
                self._cursor = row["seq"]
        return chosen

    def settle(self, ack) -> int:
        """Apply a district ack: mark its accepted ranges synced; returns how many changed."""
        if not isinstance(ack, dict) or ack.get("schema") != SCHEMA_ACK:
            logs.event("ack_malformed", logging.WARNING, reason="unknown_schema")
            return 0
        if ack.get("store") != self.store.store_id:
            return 0        # meant for an earlier database of this device
        try:
            accepted = [(int(first), int(last)) for first, last in ack.get("accepted", [])]
            rejected = {item["seq"]: str(item.get("reason"))
                        for item in ack.get("rejected", [])
                        if isinstance(item, dict) and isinstance(item.get("seq"), int)}
        except (TypeError, ValueError, AttributeError):
            logs.event("ack_malformed", logging.WARNING, reason="bad_ranges")
            return 0
        marked = sum(self.store.mark_synced(first, last) for first, last in accepted)
        for seq, reason in rejected.items():
            logs.event("record_rejected", logging.WARNING, seq=seq, reason=reason)
        self.rejected.update(rejected)
        self._forget(str(ack.get("batch")), accepted)
        logs.event("batch_acked", batch=ack.get("batch"), synced=marked,
                   rejected=len(rejected))
        return marked

    def _forget(self, batch_id: str, accepted: list[tuple[int, int]]) -> None:
        batch = self.in_flight.pop(batch_id, None)
        if batch is None:
            return
        settled = self.rejected.union(
            s for s in batch.seqs if any(a <= s <= b for a, b in accepted))
        skipped = set(batch.seqs) - settled
        if skipped:     # the district left some out: they go again in a later batch
            self._cursor = min(self._cursor, min(skipped) - 1)


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
