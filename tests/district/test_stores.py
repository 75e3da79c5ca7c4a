"""One contract, two backends: the district store on a real SQLite file and on a real
PostgreSQL server started for the session. Every test here runs against both."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from district.stores import open_store, sql
from district.stores.sql import DistrictStoreError
from models.timefmt import parse_rfc3339
from tests.support.loglines import captured_lines
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.wire import STORE, SURROGATE, record_id
from tests.support.wire import wire_batch as batch
from tests.support.wire import wire_record as record


@pytest.fixture
def store_url(district_store_url):  # noqa: F811 - the imported fixture
    return district_store_url


@pytest.fixture
def store(store_url):
    with open_store(store_url) as opened:
        yield opened


def test_commit_is_idempotent_and_duplicates_are_acked(store):
    assert store.commit_batch("dev-1", batch(record(1), record(2), record(4))) == (
        [[1, 2], [4, 4]], [])
    assert store.commit_batch("dev-1", batch(record(2), record(3))) == ([[2, 3]], [])
    assert store.duplicates == 1
    assert [r["seq"] for r in store.records()] == [1, 2, 3, 4]
    assert store.count() == 4


def test_conflicts_are_rejected_and_nothing_else_changes(store):
    store.commit_batch("dev-1", batch(record(1), record(2)))
    clash = store.commit_batch("dev-1", batch(record(5, id=record_id(1)),
                                              record(2, id=record_id(99)), record(6)))
    assert clash == ([[6, 6]], [{"seq": 5, "reason": "conflict"},
                                {"seq": 2, "reason": "conflict"}])
    assert [r["id"] for r in store.records()] == [record_id(1), record_id(2), record_id(6)]


def test_unique_per_device_and_store(store):
    store.commit_batch("dev-1", batch(record(1)))
    assert store.commit_batch("dev-1", batch(record(1, id=str(uuid.uuid4())),
                                             store=str(uuid.uuid4()))) == ([[1, 1]], [])
    assert store.commit_batch("dev-2", batch(record(1, id=str(uuid.uuid4())))) == (
        [[1, 1]], [])
    assert store.count() == 3


def test_invalid_records_are_named_and_the_rest_kept(store):
    accepted, rejected = store.commit_batch("dev-1", batch(
        record(1), record(2, decision="maybe"), record(3, note="a\x00b"),
        record(2**63), record(4, temperature_c=float("nan")), record(5)))
    assert accepted == [[1, 1], [5, 5]]
    assert [r["reason"] for r in rejected] == ["unknown_decision", "bad_text", "bad_seq",
                                               "bad_number"]


def test_records_round_trip_every_field(store):
    sent = record(7, reasons=["color_yellow", "fever"], clock_synced=False,
                  temperature_c=37.45, note="张*明 visitor", pass_exp="2026-11-29T03:09:05.000Z")
    store.commit_batch("dev-1", batch(sent))
    (held,) = store.records()
    assert held == {**sent, "card": None, "card_kind": None, "device": "dev-1", "store": STORE}


def test_records_with_the_optional_card_fields_are_taken_and_kept(store):
    tapped = record(8, card="9f" * 16, card_kind="mifare")
    assert store.commit_batch("dev-1", batch(record(7), tapped)) == ([[7, 8]], [])
    held = {r["seq"]: (r["card"], r["card_kind"]) for r in store.records()}
    assert held == {7: (None, None), 8: ("9f" * 16, "mifare")}
    assert store.commit_batch("dev-1", batch(record(9, card=5))) == (
        [], [{"seq": 9, "reason": "bad_type"}])


def test_field_order_on_the_wire_does_not_matter(store):
    shuffled = dict(reversed(list(record(2, note="second").items())))
    store.commit_batch("dev-1", batch(record(1, note="first"), shuffled))
    assert [(r["seq"], r["note"], r["gate"]) for r in store.records()] == [
        (1, "first", "east-1"), (2, "second", "east-1")]


def test_registry_keeps_the_latest_status(store):
    store.record_status("dev-2", {"device": "dev-2", "online": True, "backlog": 5})
    store.record_status("dev-1", {"device": "dev-1", "online": True})
    store.record_status("dev-2", {"device": "dev-2", "online": False})
    devices = store.devices()
    assert [(d["device"], d["online"]) for d in devices] == [("dev-1", True), ("dev-2", False)]
    assert devices[1]["status"] == {"device": "dev-2", "online": False}


def test_rows_survive_reopening(store_url):
    with open_store(store_url) as first:
        first.commit_batch("dev-1", batch(record(1), record(2)))
    with open_store(store_url) as again:
        assert again.commit_batch("dev-1", batch(record(2), record(3))) == ([[2, 3]], [])
        assert again.count() == 3 and again.duplicates == 1


def test_visits_and_gate_windows(store):
    seen = "ab" * 16
    store.commit_batch("dev-1", batch(
        record(1, subject=seen, ts="2026-11-29T08:00:00.000Z"),
        record(2, ts="2026-11-29T08:10:00.000Z"),
        record(3, subject=seen, ts="2026-11-29T09:00:00.000+01:00", gate="west-2")))
    visits = store.visits(seen)
    assert [(v["seq"], v["gate"]) for v in visits] == [(1, "east-1"), (3, "west-2")]
    assert visits[1]["ts_s"] == visits[0]["ts_s"]   # 09:00+01:00 is 08:00Z
    assert [v["seq"] for v in store.visits(seen, since_s=visits[0]["ts_s"] + 1)] == []
    around = store.at_gate("dev-1", "east-1", visits[0]["ts_s"], visits[0]["ts_s"] + 600)
    assert [r["seq"] for r in around] == [1, 2]


def test_visits_around_is_each_visit_with_its_gate_window(store):
    """The trace's one query: every visit, each with what at_gate finds in its window."""
    seen = "cd" * 16
    store.commit_batch("dev-1", batch(
        record(1, subject=seen, ts="2026-11-29T08:00:00.000Z"),
        record(2, ts="2026-11-29T08:10:00.000Z"),
        record(3, ts="2026-11-29T08:20:00.000Z"),       # outside the first's 15 min
        record(4, subject=seen, ts="2026-11-29T08:25:00.000Z"),
        record(5, ts="2026-11-29T08:26:00.000Z", gate="west-2")))   # another gate
    around = store.visits_around(seen, None, None, 15 * 60)
    assert [visit["seq"] for visit, _ in around] == [v["seq"] for v in store.visits(seen)]
    for visit, near in around:
        window = store.at_gate("dev-1", "east-1", visit["ts_s"] - 900, visit["ts_s"] + 900)
        assert [r["seq"] for r in near] == [r["seq"] for r in window]
    assert [[r["seq"] for r in near] for _, near in around] == [[1, 2], [2, 3, 4]]
    (only,) = store.visits_around(seen, around[1][0]["ts_s"], None, 60)
    assert only[0]["seq"] == 4 and [r["seq"] for r in only[1]] == [4]


def test_concurrent_writers_store_each_record_once(store_url):
    """Two receivers committing overlapping batches at the same time, own connections."""
    stores = [open_store(store_url) for _ in range(2)]
    records = [record(seq) for seq in range(1, 301)]
    chunks = [records[start:start + 25] for start in range(0, 300, 20)]    # overlapping

    def commit(mine, order):
        for chunk in order:
            mine.commit_batch("dev-1", batch(*chunk))

    threads = [threading.Thread(target=commit, args=(stores[0], chunks)),
               threading.Thread(target=commit, args=(stores[1], chunks[::-1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert [r["seq"] for r in stores[0].records()] == list(range(1, 301))
        assert sum(s.duplicates for s in stores) == 2 * sum(map(len, chunks)) - 300
    finally:
        for opened in stores:
            opened.close()


def test_an_unreachable_database_is_a_named_error(tmp_path):
    from tests.support.broker import free_port

    with pytest.raises(DistrictStoreError, match="district store postgresql://") as caught:
        open_store(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none")
    assert "secret" not in str(caught.value)
    (tmp_path / "file").touch()
    with pytest.raises(DistrictStoreError, match="district store"):
        open_store(f"sqlite:///{tmp_path}/file/district.db")


def test_a_sqlite_store_from_before_time_windows_is_upgraded(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    old = record(1)
    columns = ["device", "store", *old, "batch", "received"]
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE records (row INTEGER PRIMARY KEY, {', '.join(columns)}, "
                   "UNIQUE (id), UNIQUE (device, store, seq))")
        db.execute(f"INSERT INTO records ({', '.join(columns)}) VALUES "
                   f"({', '.join('?' for _ in columns)})",
                   ("dev-1", STORE, *(json.dumps(v) if isinstance(v, list) else v
                                      for v in old.values()), "b", "2026-11-29T03:05:00Z"))
    db.close()
    with open_store(f"sqlite:///{path}") as store:
        (visit,) = store.visits(old["subject"])
        assert visit["ts_s"] == pytest.approx(parse_rfc3339(old["ts"]), abs=0.001)
        assert store.commit_batch("dev-1", batch(record(1), record(2))) == ([[1, 2]], [])


def test_postgresql_connection_lost_then_made_again(pg_server):  # noqa: F811
    import psycopg

    url = pg_server.new_database()
    with open_store(url) as store, psycopg.connect(url, autocommit=True) as admin:
        store.commit_batch("dev-1", batch(record(1)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(psycopg.OperationalError):
            store.commit_batch("dev-1", batch(record(2), record(3)))
        # The device resends the unacknowledged batch; the store has reconnected.
        assert store.commit_batch("dev-1", batch(record(2), record(3))) == ([[2, 3]], [])
        assert store.count() == 3


# -- one device id, two stores at once -------------------------------------------------------

A, B, C = (str(uuid.UUID(int=n)) for n in (0xA, 0xB, 0xC))


def send(store, device: str, *stores_and_seqs) -> list:
    """Commit one batch per (store, seq); the accepted ranges of each."""
    return [store.commit_batch(device, {**batch(record(seq, id=device_record_id(device, seq)),
                                              store=s), "device": device})[0]
            for s, seq in stores_and_seqs]


def device_record_id(device: str, seq: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{device}.{seq}"))


def flags(store) -> dict:
    return {d["device"]: (d["flag"], set(d["flag_stores"])) for d in store.devices()}


def test_a_replacement_store_is_not_flagged(store):
    # A's database was recreated: B starts, and A never sends again.
    send(store, "dev-1", (A, 1), (A, 2), (B, 3), (B, 4), (B, 5))
    assert store.devices() == [] and store.conflicts == []
    assert [(s["store"], s["batches"]) for s in store.stores_of("dev-1")] == [(A, 2), (B, 3)]
    first, second = store.stores_of("dev-1")
    assert first["first_seen"] <= first["last_seen"] <= second["first_seen"]


@pytest.mark.parametrize("order", [(A, B, A), (B, A, B)], ids=["ABA", "BAB"])
def test_two_stores_at_once_are_flagged_and_every_record_kept(store, order):
    assert send(store, "dev-1", *((s, seq) for seq, s in enumerate(order, 1))) == [
        [[1, 1]], [[2, 2]], [[3, 3]]]
    assert flags(store) == {"dev-1": ("two_stores", {A, B})}
    (device,) = store.devices()
    assert device["online"] is False and device["status"] == {}    # no status yet
    assert store.conflicts == [("dev-1", [order[0], order[1]])]
    send(store, "dev-1", (order[1], 4), (order[0], 5), (order[1], 6))
    assert len(store.conflicts) == 1, "the same conflict again is not news"
    assert sorted(r["seq"] for r in store.records()) == [1, 2, 3, 4, 5, 6]
    assert sum(s["batches"] for s in store.stores_of("dev-1")) == 6


def test_a_third_store_interleaving_is_a_new_conflict(store):
    send(store, "dev-1", (A, 1), (B, 2), (C, 3), (A, 4))
    assert store.conflicts == [("dev-1", [A, B, C])]    # A is live across B and C
    send(store, "dev-2", (A, 1), (B, 2), (C, 3), (B, 4))
    assert store.conflicts[1] == ("dev-2", [B, C])      # A was replaced by B before
    assert flags(store) == {"dev-1": ("two_stores", {A, B, C}),
                            "dev-2": ("two_stores", {B, C})}


def test_the_flag_survives_status_updates_and_only_that_device_is_flagged(store):
    store.record_status("dev-1", {"device": "dev-1", "online": True, "backlog": 3})
    send(store, "dev-1", (A, 1), (B, 2), (A, 3))
    send(store, "dev-2", (B, 1), (C, 2))
    store.record_status("dev-1", {"device": "dev-1", "online": False})
    store.record_status("dev-2", {"device": "dev-2", "online": True})
    devices = {d["device"]: d for d in store.devices()}
    assert devices["dev-1"]["flag"] == "two_stores"
    assert set(devices["dev-1"]["flag_stores"]) == {A, B}
    assert devices["dev-1"]["status"] == {"device": "dev-1", "online": False}
    assert devices["dev-2"]["flag"] is None and devices["dev-2"]["flag_stores"] == []


def test_a_cleared_flag_stays_clear_until_the_stores_interleave_again(store_url):
    with open_store(store_url) as store:
        send(store, "dev-1", (A, 1), (B, 2), (A, 3))
        store.clear_flag("dev-1")
        assert flags(store) == {"dev-1": (None, set())}
        send(store, "dev-1", (A, 4), (A, 5))   # the operator took B's device away
    with open_store(store_url) as store:
        assert flags(store) == {"dev-1": (None, set())} and store.conflicts == []
        send(store, "dev-1", (B, 6))
        assert store.conflicts == [("dev-1", [B, A])]
        assert flags(store) == {"dev-1": ("two_stores", {A, B})}


def _old_registry(url: str) -> None:
    """The devices table as district stores made it before device_stores and flags."""
    old = ("CREATE TABLE devices (device TEXT PRIMARY KEY, online BOOLEAN NOT NULL, "
           "status TEXT NOT NULL, last_seen TEXT NOT NULL)")
    row = "INSERT INTO devices VALUES ('dev-1', true, '{\"online\": true}', 'then')"
    if url.startswith("sqlite:///"):
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        with db:
            db.execute(old)
            db.execute(row)
        db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(old)
            db.execute(row)


def test_a_registry_from_before_flags_is_upgraded(store_url):
    _old_registry(store_url)
    with open_store(store_url) as store:
        assert [(d["device"], d["online"], d["flag"]) for d in store.devices()] == [
            ("dev-1", True, None)]
        send(store, "dev-1", (A, 1), (B, 2), (A, 3))
        assert flags(store) == {"dev-1": ("two_stores", {A, B})}
        assert store.devices()[0]["status"] == {"online": True}


# -- hostile records, conflicts and store ids ------------------------------------------------

TEXT_FIELDS = ("id", "ts", "gate", "decision", "pass_format", "issuer", "kid", "subject",
               "color", "pass_exp", "tested_at", "operator", "note", "card", "card_kind")


@pytest.fixture
def checkpoint_log():
    """The `checkpoint` log lines of the test."""
    with captured_lines() as lines:
        yield lines


def test_hostile_records_are_rejected_by_name_and_their_neighbours_committed(store):
    hostile = [record(2, temperature_c=2**63), record(3, temperature_c=-(2**70)),
               *(record(seq, **{name: "x" + SURROGATE})
                 for seq, name in enumerate(TEXT_FIELDS, start=10))]
    accepted, rejected = store.commit_batch("dev-1", batch(record(1), *hostile, record(100),
                                                           record(101)))
    assert accepted == [[1, 1], [100, 101]]
    assert rejected == [{"seq": 2, "reason": "bad_number"}, {"seq": 3, "reason": "bad_number"},
                        *({"seq": seq, "reason": "bad_text"}
                          for seq in range(10, 10 + len(TEXT_FIELDS)))]
    assert [r["seq"] for r in store.records()] == [1, 100, 101]


def test_the_same_id_and_seq_with_other_content_is_a_conflict(store, checkpoint_log):
    sent = record(1, note="first")
    store.commit_batch("dev-1", batch(sent, record(2)))
    changed = [{**sent, "note": "edited"}, {**sent, "temperature_c": 36.6},
               {**sent, "reasons": []}, {**sent, "clock_synced": False},
               {**sent, "ts": "2026-11-29T03:01:05.124Z"}, {**sent, "card": "9f" * 16}]
    for other in changed:
        assert store.commit_batch("dev-1", batch(other)) == (
            [], [{"seq": 1, "reason": "conflict"}])
    assert store.duplicates == 0
    assert [(r["seq"], r["note"], r["temperature_c"]) for r in store.records()] == [
        (1, "first", 38.1), (2, None, 38.1)]
    logged = [line for line in checkpoint_log if "event=record_conflict" in line]
    assert len(logged) == len(changed)
    assert f"seq=1 id={sent['id']} differ=note" in logged[0]


def test_an_identical_resend_is_a_duplicate(store):
    first = [record(1, card="9f" * 16, card_kind="cnid", temperature_c=37),
             record(2, pass_exp="2026-11-29T03:09:05.000Z", note="张*明 visitor", reasons=[])]
    assert store.commit_batch("dev-1", batch(*first)) == ([[1, 2]], [])
    shuffled = dict(reversed(list(first[1].items())))
    assert store.commit_batch("dev-1", batch(first[0], shuffled, record(3))) == (
        [[1, 3]], [])
    assert store.duplicates == 2
    twice = store.commit_batch("dev-1", batch(record(4), record(4), {**record(4), "note": "x"}))
    assert twice == ([[4, 4]], [{"seq": 4, "reason": "conflict"}])
    assert store.count() == 4


def test_an_upper_case_store_id_is_the_same_store(store):
    assert store.commit_batch("dev-1", batch(record(1), store=STORE.upper())) == (
        [[1, 1]], [])
    assert store.commit_batch("dev-1", batch(record(1), record(2), store=STORE)) == (
        [[1, 2]], [])
    braced = "{" + STORE.upper() + "}"
    assert store.commit_batch("dev-1", batch(record(2), record(3), store=braced)) == (
        [[2, 3]], [])
    assert store.duplicates == 2
    assert {r["store"] for r in store.records()} == {STORE}
    assert [(s["store"], s["batches"]) for s in store.stores_of("dev-1")] == [(STORE, 3)]
    assert store.devices() == [] and store.conflicts == []     # one store, not two


def test_a_value_the_store_still_refuses_costs_only_its_own_record(store, monkeypatch,
                                                                    checkpoint_log):
    """Defence in depth: were validation to let a bad value through (here it lets all
    through), the store's refusal rejects that record alone and the rest are committed."""
    monkeypatch.setattr(sql, "record_problem", lambda record: None)
    accepted, rejected = store.commit_batch("dev-1", batch(
        record(1), record(2**64), record(3, note="x" + SURROGATE), record(4),
        record(6, ts="yesterday")))
    assert accepted == [[1, 1], [4, 4]]
    assert rejected == [{"seq": 2**64, "reason": "store_refused"},
                        {"seq": 3, "reason": "store_refused"},
                        {"seq": 6, "reason": "store_refused"}]
    assert [r["seq"] for r in store.records()] == [1, 4]
    assert sum("event=store_refused" in line for line in checkpoint_log) == 3
    assert store.commit_batch("dev-1", batch(record(4), record(5))) == ([[4, 5]], [])
    assert store.duplicates == 1
