"""District validation and idempotent commits on a real SQLite file, without a broker."""

from __future__ import annotations

import json
import uuid
import zlib

import pytest

from district.stores.sql import seq_ranges
from district.stores.sqlite import DistrictStore
from district.validate import BatchError, check_envelope, decode_payload, record_problem
from tests.support.wire import wire_batch as batch
from tests.support.wire import wire_record as record


@pytest.mark.parametrize(("changes", "reason"), [
    ({"decision": "maybe"}, "unknown_decision"),
    ({"reasons": ["fever", "flu"]}, "unknown_reason"),
    ({"reasons": "fever"}, "bad_type"),
    ({"seq": 0}, "bad_seq"),
    ({"seq": True}, "bad_seq"),
    ({"ts": "yesterday"}, "bad_time"),
    ({"clock_synced": 1}, "bad_type"),
    ({"temperature_c": "38"}, "bad_type"),
    ({"id": ""}, "bad_type"),
    ({"name": "Zhang San"}, "unknown_field"),
])
def test_a_bad_record_is_named(changes, reason):
    assert record_problem({**record(1), **changes}) == reason


def test_a_missing_field_is_named():
    incomplete = record(1)
    del incomplete["gate"]
    assert record_problem(incomplete) == "missing_field"
    assert record_problem(record(1)) is None


def test_payload_decoding_and_envelope_checks():
    body = json.dumps(batch(record(1))).encode()
    assert decode_payload(zlib.compress(body), "application/json+zlib")["records"][0]["seq"] == 1
    cases = [
        (lambda: decode_payload(b"\x00garbage", "application/json+zlib"), "bad_compression"),
        (lambda: decode_payload(zlib.compress(b"[" * (17 << 20)), "application/json+zlib"),
         "too_large"),
        (lambda: decode_payload(body, "text/xml"), "unknown_content_type"),
        (lambda: decode_payload(b"[1]", None), "bad_json"),
        (lambda: check_envelope(batch(record(1)), "dev-2"), "device_mismatch"),
        (lambda: check_envelope(batch(record(1), store="nope"), "dev-1"), "bad_store"),
    ]
    for call, reason in cases:
        with pytest.raises(BatchError) as caught:
            call()
        assert caught.value.reason == reason


def test_commit_is_idempotent_and_conflicts_are_rejected(tmp_path):
    with DistrictStore(tmp_path / "d.db") as storage:
        assert storage.commit_batch("dev-1", batch(record(1), record(2), record(4))) == (
            [[1, 2], [4, 4]], [])
        again = storage.commit_batch("dev-1", batch(record(2), record(3)))
        assert again == ([[2, 3]], [])
        assert storage.duplicates == 1
        clash = storage.commit_batch("dev-1", batch(record(5, id="0190-1"),
                                                     record(3, id="other")))
        assert clash == ([], [{"seq": 5, "reason": "conflict"},
                              {"seq": 3, "reason": "conflict"}])
        assert [r["seq"] for r in storage.records()] == [1, 2, 3, 4]
        assert storage.count() == 4


def test_the_same_seq_from_another_store_is_a_new_record(tmp_path):
    with DistrictStore(tmp_path / "d.db") as storage:
        storage.commit_batch("dev-1", batch(record(1)))
        fresh = record(1, id="0190-new")
        assert storage.commit_batch("dev-1", batch(fresh, store=str(uuid.uuid4()))) == (
            [[1, 1]], [])
        assert storage.count() == 2


def test_seq_ranges():
    assert seq_ranges([5, 1, 2, 3, 3]) == [[1, 3], [5, 5]]
    assert seq_ranges([]) == []
