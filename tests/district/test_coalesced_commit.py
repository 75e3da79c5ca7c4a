"""Several batches in one transaction (SqlStore.commit_batches, what the receiver's writer
does with what arrives together) give each batch the outcome it would have had alone, on
a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import uuid

import pytest

from district.stores import open_store, sql
from tests.support.loglines import captured_lines
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.wire import SURROGATE, record_id
from tests.support.wire import wire_batch as batch
from tests.support.wire import wire_record as record


@pytest.fixture
def store(district_store_url):  # noqa: F811 - the imported fixture
    with open_store(district_store_url) as opened:
        yield opened


@pytest.fixture
def checkpoint_log():
    with captured_lines() as lines:
        yield lines


def test_each_batch_gets_its_own_ack(store):
    other = str(uuid.uuid4())
    outcomes = store.commit_batches([
        ("dev-1", batch(record(1), record(2))),
        ("dev-2", batch(record(1, id=record_id(101)), device="dev-2", store=other)),
        ("dev-1", batch(record(3), {"seq": 4})),
    ])
    assert [(o.accepted, o.rejected) for o in outcomes] == [
        ([[1, 2]], []), ([[1, 1]], []), ([[3, 3]], [{"seq": 4, "reason": "missing_field"}])]
    assert [(r["device"], r["seq"]) for r in store.records()] == [
        ("dev-1", 1), ("dev-1", 2), ("dev-1", 3), ("dev-2", 1)]


def test_a_resend_arriving_with_its_first_copy_is_a_duplicate(store):
    """A device that timed out waiting for an ack resends; both copies can land in one
    transaction. The second is acked too, and the record is held once."""
    first = batch(record(1), record(2))
    again = {**first, "batch": str(uuid.uuid4())}
    outcomes = store.commit_batches([("dev-1", first), ("dev-1", again)])
    assert [o.accepted for o in outcomes] == [[[1, 2]], [[1, 2]]]
    assert [o.duplicates for o in outcomes] == [0, 2]
    assert store.count() == 2


def test_a_conflict_inside_one_transaction_is_named(store, checkpoint_log):
    """Two batches claiming the same seq with other content, or the same id at another
    seq: the first arrived is kept, the other rejected as a conflict."""
    outcomes = store.commit_batches([
        ("dev-1", batch(record(1), record(2))),
        ("dev-1", batch(record(2, id=record_id(99)), record(3, id=record_id(1)), record(4))),
    ])
    assert outcomes[0].accepted == [[1, 2]]
    assert outcomes[1].accepted == [[4, 4]]
    assert outcomes[1].rejected == [{"seq": 2, "reason": "conflict"},
                                    {"seq": 3, "reason": "conflict"}]
    assert [r["id"] for r in store.records()] == [record_id(1), record_id(2), record_id(4)]
    assert sum("event=record_conflict" in line for line in checkpoint_log) == 2


def test_stores_at_once_are_flagged_in_arrival_order(store):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    outcomes = store.commit_batches([
        ("dev-1", batch(record(1), store=a)),
        ("dev-1", batch(record(1, id=record_id(201)), store=b)),
        ("dev-1", batch(record(2), store=a)),
    ])
    assert [o.conflict for o in outcomes] == [None, None, [a, b]]
    assert store.conflicts == [("dev-1", [a, b])]
    assert store.count() == 3


def test_a_refused_value_costs_only_its_record_and_not_the_other_batches(store,
                                                                          monkeypatch):
    """Were validation to let a bad value through, the coalesced transaction fails; the
    batches are done again one by one, and only the bad record is rejected."""
    monkeypatch.setattr(sql, "record_problem", lambda record: None)
    outcomes = store.commit_batches([
        ("dev-1", batch(record(1), record(2))),
        ("dev-1", batch(record(3), record(4, note="x" + SURROGATE), record(5))),
        ("dev-2", batch(record(1, id=record_id(301)), device="dev-2")),
    ])
    assert [(o.accepted, o.rejected) for o in outcomes] == [
        ([[1, 2]], []), ([[3, 3], [5, 5]], [{"seq": 4, "reason": "store_refused"}]),
        ([[1, 1]], [])]
    assert store.count() == 5


def test_a_failing_store_commits_none_of_the_batches(store, monkeypatch):
    """A failure that is not a refused value (here, the device registry's statement
    failing) rolls the whole transaction back: no batch is acked, and every one can come
    again."""
    def broken(*args):
        raise OSError("disk gone")
    monkeypatch.setattr(store, "_note_stores", broken)
    with pytest.raises(OSError):
        store.commit_batches([("dev-1", batch(record(1))), ("dev-1", batch(record(2)))])
    assert store.count() == 0
    monkeypatch.undo()
    outcomes = store.commit_batches([("dev-1", batch(record(1))), ("dev-1", batch(record(2)))])
    assert [o.accepted for o in outcomes] == [[[1, 1]], [[2, 2]]]


def test_a_flush_counts_every_batch_of_each_store_and_still_sees_a_second_store(store):
    """Batches of one device and store in one flush are counted together; a second store
    between them is still revealed as it would be batch by batch."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    outcomes = store.commit_batches(
        [("dev-1", batch(record(seq), store=first)) for seq in (1, 2, 3)]
        + [("dev-1", batch(record(1, id=record_id(901)), store=second)),
           ("dev-1", batch(record(4), store=first))])
    assert [o.accepted for o in outcomes] == [[[1, 1]], [[2, 2]], [[3, 3]], [[1, 1]], [[4, 4]]]
    assert [o.conflict for o in outcomes] == [None, None, None, None, [first, second]]
    # Both stores were first seen in this one flush, so their order is a tie: count each.
    assert {s["store"]: s["batches"] for s in store.stores_of("dev-1")} == {
        first: 4, second: 1}


def test_a_flush_of_more_devices_than_one_lookup_names_counts_each_of_them(store):
    """Every device's latest store is read in lookups of LOOKUP_CHUNK devices: a flush of
    more devices than that counts each, and still reveals the one whose stores interleave."""
    devices = [f"dev-{n:04d}" for n in range(sql.LOOKUP_CHUNK + 20)]
    stores = {device: str(uuid.uuid4()) for device in devices}
    other = str(uuid.uuid4())

    def flush(seq: int, clone: str | None = None):
        batches = [(d, batch(record(seq, id=record_id(seq * 10_000 + n)), device=d,
                             store=stores[d])) for n, d in enumerate(devices)]
        if clone:
            batches.append((devices[-1], batch(record(1, id=record_id(99_999_999 + seq)),
                                               device=devices[-1], store=clone)))
        return store.commit_batches(batches)

    assert all(o.conflict is None for o in flush(1, clone=other))
    outcomes = flush(2)
    assert [o.conflict for o in outcomes] == [None] * (len(devices) - 1) + [
        [stores[devices[-1]], other]]
    assert all(o.accepted == [[2, 2]] for o in outcomes)
    assert [s["batches"] for s in store.stores_of(devices[0])] == [2]
    assert {s["store"]: s["batches"] for s in store.stores_of(devices[-1])} == {
        stores[devices[-1]]: 2, other: 1}
    assert store.conflicts == [(devices[-1], [stores[devices[-1]], other])]
