"""The SQLite store on a real file: durable settings, seq never reused, replay memory."""

from __future__ import annotations

import sqlite3

import pytest

from edge.store import MIGRATIONS, Store, StoreError
from tests.support.records import record


def test_commit_assigns_increasing_seq_and_reads_back(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        seqs = [store.commit(record(n)) for n in range(3)]
        rows = list(store.records())
    assert seqs == [1, 2, 3]
    assert [r["id"] for r in rows] == ["id-0", "id-1", "id-2"]
    assert rows[0]["synced"] is False and rows[0]["clock_synced"] is True
    assert rows[0]["temperature_c"] == 36.5


def test_durability_settings(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seq_is_never_reused_after_deletes_and_reopen(tmp_path):
    path = tmp_path / "cp.db"
    with Store(path) as store:
        for n in range(3):
            store.commit(record(n))
        store_id = store.store_id
    raw = sqlite3.connect(path)
    raw.execute("DELETE FROM records WHERE seq >= 2")   # as retention would
    raw.commit()
    raw.close()
    with Store(path) as store:
        assert store.commit(record(9)) == 4
        assert store.store_id == store_id


def test_duplicate_id_is_refused_and_nothing_half_written(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        store.commit(record(1), passed=("cc", 100))
        with pytest.raises(sqlite3.IntegrityError):
            store.commit(record(1), passed=("dd", 100))
        assert store.count() == 1
        assert not store.has_passed("dd")


def test_replay_memory_survives_restart(tmp_path):
    path = tmp_path / "cp.db"
    with Store(path) as store:
        store.commit(record(1), passed=("c7" * 16, 1_790_000_100))
    with Store(path) as store:
        assert store.has_passed("c7" * 16)
        assert not store.has_passed("00" * 16)


def test_since_filters_by_time(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        store.commit(record(1, ts="2026-11-29T01:00:00.000Z"))
        store.commit(record(2, ts="2026-11-29T02:00:00.000Z"))
        assert [r["id"] for r in store.records("2026-11-29T01:30:00.000Z")] == ["id-2"]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "cp.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="store"):
        Store(blocker / "cp.db")


def test_outbox_marks_only_acknowledged_ranges(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        for n in range(5):
            store.commit(record(n, ts=f"2026-11-29T0{n}:00:00.000Z"))
        assert [r["seq"] for r in store.unsynced(3)] == [1, 2, 3]
        assert store.mark_synced(2, 3) == 2
        assert store.mark_synced(2, 3) == 0            # a duplicate ack changes nothing
        assert [r["seq"] for r in store.unsynced(10)] == [1, 4, 5]
        assert [r["seq"] for r in store.unsynced(10, after_seq=1)] == [4, 5]
        assert store.backlog() == (3, "2026-11-29T00:00:00.000Z")
