"""District validation and idempotent commits on a real SQLite file, without a broker."""

from __future__ import annotations

import json
import uuid
import zlib

import pytest

from district.stores.sql import seq_ranges
from district.stores.sqlite import DistrictStore
from district.validate import (
    BatchError,
    canonical_store,
    check_envelope,
    decode_payload,
    record_problem,
)
from models.ids import uuid7
from models.records import Record
from models.timefmt import rfc3339
from tests.support.wire import SURROGATE, record_id
from tests.support.wire import wire_batch as batch
from tests.support.wire import wire_record as record


@pytest.mark.parametrize(("changes", "reason"), [
    ({"decision": "maybe"}, "unknown_decision"),
    ({"note": "a\x00b"}, "bad_text"),
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
        clash = storage.commit_batch("dev-1", batch(record(5, id=record_id(1)),
                                                     record(3, id=record_id(99))))
        assert clash == ([], [{"seq": 5, "reason": "conflict"},
                              {"seq": 3, "reason": "conflict"}])
        assert [r["seq"] for r in storage.records()] == [1, 2, 3, 4]
        assert storage.count() == 4


def test_the_same_seq_from_another_store_is_a_new_record(tmp_path):
    with DistrictStore(tmp_path / "d.db") as storage:
        storage.commit_batch("dev-1", batch(record(1)))
        fresh = record(1, id=record_id(1000))
        assert storage.commit_batch("dev-1", batch(fresh, store=str(uuid.uuid4()))) == (
            [[1, 1]], [])
        assert storage.count() == 2


def test_seq_ranges():
    assert seq_ranges([5, 1, 2, 3, 3]) == [[1, 3], [5, 5]]
    assert seq_ranges([]) == []


# -- the receiver's rules: values both stores take, or a named rejection ----------------------

TEXT_FIELDS = ("id", "ts", "gate", "decision", "pass_format", "issuer", "kid", "subject",
               "color", "pass_exp", "tested_at", "operator", "note", "card", "card_kind")


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_a_lone_surrogate_or_a_nul_in_any_text_field_is_bad_text(name):
    assert record_problem(record(1, **{name: "ab" + SURROGATE})) == "bad_text"
    assert record_problem(record(1, **{name: "ab\x00"})) == "bad_text"
    assert record_problem(record(1, reasons=["fever", SURROGATE])) == "bad_text"


@pytest.mark.parametrize(("changes", "reason"), [
    # ids: canonical UUID text, any version
    ({"id": "0190-1"}, "bad_id"),
    ({"id": str(uuid.uuid4()).upper()}, "bad_id"),
    ({"id": "{" + str(uuid.uuid4()) + "}"}, "bad_id"),
    ({"id": uuid.uuid4().hex}, "bad_id"),
    ({"id": str(uuid.uuid4())}, None),
    ({"id": None}, "bad_type"),
    # seq: a 64-bit SQL integer
    ({"seq": 2**63}, "bad_seq"),
    ({"seq": 2**63 - 1}, None),
    ({"seq": 1.0}, "bad_seq"),
    # temperature_c: a finite number of a screening range, kept as a double
    ({"temperature_c": 2**63}, "bad_number"),
    ({"temperature_c": 10**400}, "bad_number"),
    ({"temperature_c": -(2**64)}, "bad_number"),
    ({"temperature_c": float("inf")}, "bad_number"),
    ({"temperature_c": float("nan")}, "bad_number"),
    ({"temperature_c": 100.5}, "bad_number"),
    ({"temperature_c": -50.5}, "bad_number"),
    ({"temperature_c": 100}, None),
    ({"temperature_c": -50.0}, None),
    ({"temperature_c": 37}, None),
    ({"temperature_c": True}, "bad_type"),
    ({"temperature_c": None}, None),
    # times: RFC 3339 date-times, pass_exp and tested_at too when not null
    ({"ts": "2026-11-29T03:04:05"}, "bad_time"),
    ({"ts": "2026-11-29"}, "bad_time"),
    ({"ts": "2026-11-29 03:04:05Z"}, "bad_time"),
    ({"ts": "2026-02-30T03:04:05Z"}, "bad_time"),
    ({"ts": "2026-11-29T24:00:00Z"}, "bad_time"),
    ({"ts": "٢٠٢٦-11-29T03:04:05Z"}, "bad_time"),     # digits, but not ASCII ones
    ({"ts": 1795921445}, "bad_time"),
    ({"ts": "2026-11-29T03:04:05.123456+08:00"}, None),
    ({"pass_exp": "tomorrow"}, "bad_time"),
    ({"pass_exp": 1795921445}, "bad_time"),
    ({"pass_exp": "2026-11-29T03:09:05.000Z"}, None),
    ({"tested_at": "2026-11-28"}, "bad_time"),
    ({"tested_at": "2026-11-28T08:00:00.000Z"}, None),
    # subject and card: lowercase hex of whole bytes
    ({"subject": "AB" * 16}, "bad_subject"),
    ({"subject": "abc"}, "bad_subject"),
    ({"subject": "zz" * 16}, "bad_subject"),
    ({"subject": "ab" * 65}, "bad_subject"),
    ({"subject": ""}, "bad_subject"),
    ({"subject": 5}, "bad_type"),
    ({"subject": None}, None),
    ({"card": "9F" * 16, "card_kind": "mifare"}, "bad_card"),
    ({"card": "9f" * 16, "card_kind": "nfc"}, "unknown_card_kind"),
    ({"card": "9f" * 16, "card_kind": 3}, "bad_type"),
    ({"card": "9f" * 16, "card_kind": "cnid"}, None),
    # lengths
    ({"gate": "g" * 65}, "too_long"),
    ({"gate": "g" * 64}, None),
    ({"operator": "o" * 65}, "too_long"),
    ({"pass_format": "CP1" * 22}, "too_long"),
    ({"color": "c" * 65}, "too_long"),
    ({"issuer": "i" * 257}, "too_long"),
    ({"issuer": "i" * 256}, None),
    ({"kid": "k" * 257}, "too_long"),
    ({"note": "n" * 60_001}, "too_long"),
    ({"note": "张" * 60_000}, None),
    ({"reasons": ["fever"] * 28}, "too_long"),
    ({"decision": ["pass"]}, "bad_type"),
])
def test_each_rule_names_its_reason(changes, reason):
    assert record_problem({**record(1), **changes}) == reason


def test_records_as_the_device_makes_them_pass():
    """The controller's record (edge/controller.py): a UUIDv7 id, rfc3339 times for ts,
    pass_exp and tested_at, a hex subject; and the test helpers' records."""
    now = 1_795_921_445.123
    made = Record(id=uuid7(int(now * 1000)), ts=rfc3339(now), clock_synced=True,
                  gate="east-1", decision="pass", pass_format="HC1", issuer="CN-BJ-110105",
                  kid="q83vQ0Cm8uY=", subject=bytes(range(16)).hex(), color="green",
                  pass_exp=rfc3339(now + 300), tested_at=rfc3339(1_795_900_000),
                  temperature_c=36.5)
    assert record_problem({**made.to_wire(), "seq": 1}) is None
    assert record_problem(record(1)) is None
    assert record_problem(record(2**63 - 1)) is None


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_payloads_are_read_at_a_bounded_cost():
    at_most = [record(seq, note="n" * 200) for seq in range(1, 201)]
    assert len(decode_payload(json.dumps(batch(*at_most)).encode(), None)["records"]) == 200
    nested = json.dumps({**batch(), "records": [[[[[[[[1]]]]]]]]}).encode()
    cases = [
        (deep(100_000), None, "too_deep"),
        (zlib.compress(deep(100_000)), "application/json+zlib", "too_deep"),
        (nested, None, "too_deep"),
        (b"[" + b"1," * (1 << 19) + b"1]", None, "too_large"),
        (zlib.compress(b" " * ((1 << 20) + 1) + b"{}"), "application/json+zlib", "too_large"),
        (b'{"schema": "\xff"}', None, "bad_json"),
        (b'{"temperature_c": NaN}', None, "bad_json"),
        (b"{" * 3, None, "bad_json"),
    ]
    for payload, content_type, reason in cases:
        with pytest.raises(BatchError) as caught:
            decode_payload(payload, content_type)
        assert caught.value.reason == reason, payload[:20]


def test_a_batch_of_more_records_than_any_device_sends_is_refused_whole():
    bomb = zlib.compress(json.dumps({**batch(), "records": [{}] * 100_000}).encode())
    assert len(bomb) < 2048         # 10^5 records to judge, log and ack, in 2 KiB
    with pytest.raises(BatchError) as caught:
        check_envelope(decode_payload(bomb, "application/json+zlib"), "dev-1")
    assert caught.value.reason == "too_many_records"
    check_envelope(batch(*[record(seq) for seq in range(1, 1001)]), "dev-1")   # 1000: fine


def test_the_envelope_names_a_batch_id_no_store_can_take():
    for bad in (SURROGATE, "b\x00", "b" * 65, "", 7):
        with pytest.raises(BatchError) as caught:
            check_envelope({**batch(record(1)), "batch": bad}, "dev-1")
        assert caught.value.reason == "bad_batch_id"
        assert SURROGATE not in str(caught.value)   # the detail is safe to log


def test_store_ids_have_one_canonical_form():
    store = uuid.uuid4()
    for spelled in (str(store).upper(), store.hex, "{" + str(store) + "}", f"urn:uuid:{store}"):
        check_envelope(batch(record(1), store=spelled), "dev-1")
        assert canonical_store(spelled) == str(store)


def test_a_value_that_passes_is_one_both_stores_take(tmp_path):
    """Every accepted value goes into SQLite (the PostgreSQL side is in test_stores.py)."""
    with DistrictStore(tmp_path / "d.db") as storage:
        edge = record(2**63 - 1, temperature_c=100, note="张" * 60_000, subject="ab" * 64,
                      card="9f" * 64, card_kind="hid", ts="2026-11-29T03:04:05.123456789+14:00")
        assert storage.commit_batch("dev-1", batch(edge)) == ([[2**63 - 1, 2**63 - 1]], [])
        (held,) = storage.records()
        assert held["temperature_c"] == 100.0 and isinstance(held["temperature_c"], float)


def test_a_value_seen_valid_is_remembered_only_for_its_field_and_type():
    """The receiver checks a gate's repeated values once (validate._seen_valid); that
    memory must never let through what the check itself refuses."""
    assert record_problem(record(1, clock_synced=True)) is None
    assert record_problem(record(2, clock_synced=1)) == "bad_type"         # 1 == True
    assert record_problem(record(3, gate="east-1")) is None
    assert record_problem(record(4, note="east-1")) is None
    assert record_problem(record(5, decision="east-1")) == "unknown_decision"
    assert record_problem(record(6, temperature_c=36.5)) is None
    assert record_problem(record(7, temperature_c=float("nan"))) == "bad_number"
    assert record_problem(record(8, gate=["east-1"])) == "bad_type"     # unhashable


def test_a_flood_of_distinct_valid_values_keeps_the_memory_bounded():
    from district import validate

    for n in range(validate.MAX_SEEN_VALID + 10):
        assert record_problem(record(n + 1, note=f"visitor {n}")) is None
    assert len(validate._seen_valid) <= validate.MAX_SEEN_VALID
