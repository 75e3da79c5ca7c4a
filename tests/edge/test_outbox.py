"""The outbox's batching and ack bookkeeping on a real SQLite store, without a network."""

from __future__ import annotations

import json
import zlib

from edge.outbox import MAX_BATCH_BYTES, Outbox
from edge.store import Store
from models.records import Record

SENT = "2026-11-29T03:04:05.000Z"


def fill(store: Store, count: int, note: str | None = None) -> None:
    for n in range(count):
        store.commit(Record(id=f"id-{n}", ts=SENT, clock_synced=True, gate="east-1",
                            decision="deny", reasons=("fever",), temperature_c=38.2,
                            note=note))


def body(batch) -> dict:
    raw = zlib.decompress(batch.payload) if batch.content_type.endswith("zlib") else batch.payload
    return json.loads(raw)


def ack(store: Store, batch, accepted, rejected=()):
    return {"schema": "checkpoint.ack/1", "batch": batch.batch_id, "store": store.store_id,
            "accepted": accepted, "rejected": list(rejected)}


def test_small_batch_is_plain_json_without_the_synced_flag(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        fill(store, 1)
        batch = Outbox(store, "dev-1").next_batch(SENT)
        assert batch.content_type == "application/json"
        envelope = body(batch)
    assert set(envelope) == {"schema", "device", "store", "batch", "sent", "records"}
    assert envelope["schema"] == "checkpoint.batch/1" and envelope["device"] == "dev-1"
    assert envelope["records"][0]["reasons"] == ["fever"]
    assert "synced" not in envelope["records"][0]


def test_batches_hold_at_most_200_records_and_are_compressed(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        fill(store, 450)
        outbox = Outbox(store, "dev-1")
        batches = [outbox.next_batch(SENT) for _ in range(3)]
        assert outbox.next_batch(SENT) is None
    assert [len(b.seqs) for b in batches] == [200, 200, 50]
    assert all(b.content_type == "application/json+zlib" for b in batches)
    assert batches[2].seqs == list(range(401, 451))


def test_batches_stay_under_64_kib_of_json(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        fill(store, 60, note="x" * 2000)
        outbox = Outbox(store, "dev-1")
        first = outbox.next_batch(SENT)
    assert 20 < len(first.seqs) < 60
    assert len(zlib.decompress(first.payload)) <= MAX_BATCH_BYTES


def test_ack_marks_only_accepted_and_rejected_are_skipped_until_restart(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        fill(store, 5)
        outbox = Outbox(store, "dev-1")
        batch = outbox.next_batch(SENT)
        outbox.settle(ack(store, batch, [[1, 2], [4, 5]], [{"seq": 3, "reason": "conflict"}]))
        assert store.backlog()[0] == 1 and not outbox.in_flight
        assert outbox.next_batch(SENT) is None          # seq 3 is not resent in a loop
        assert Outbox(store, "dev-1").next_batch(SENT).seqs == [3]   # after a restart


def test_records_the_district_left_out_go_again(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        fill(store, 4)
        outbox = Outbox(store, "dev-1")
        batch = outbox.next_batch(SENT)
        outbox.settle(ack(store, batch, [[1, 1], [3, 4]]))
        assert outbox.next_batch(SENT).seqs == [2]


def test_acks_for_another_store_or_malformed_change_nothing(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        fill(store, 2)
        outbox = Outbox(store, "dev-1")
        batch = outbox.next_batch(SENT)
        other = {**ack(store, batch, [[1, 2]]), "store": "00000000-0000-4000-8000-000000000000"}
        assert outbox.settle(other) == 0
        assert outbox.settle({**ack(store, batch, [[1, 2]]), "schema": "x"}) == 0
        assert outbox.settle(ack(store, batch, [["a", None]])) == 0
        assert store.backlog()[0] == 2 and batch.batch_id in outbox.in_flight
        assert outbox.settle(ack(store, batch, [[1, 2]])) == 2
