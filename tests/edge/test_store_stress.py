"""The device store under stress: retention, a full disk, a corrupt file.

The full disk is real where the tests may mount one (a 2 MiB tmpfs, as root); elsewhere
SQLite's own size limit (`PRAGMA max_page_count`) fills the database instead.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from edge.scanner import Scan
from edge.store import Store, StoreError, StoreFull
from edge.sync import Sync, Timing
from models.timefmt import rfc3339
from tests.support.clock import FakeClock
from tests.support.controller import green_pass, make_controller, step_up
from tests.support.paths import REPO
from tests.support.records import record
from tests.support.small_disk import fill, small_disk  # noqa: F401 - fixture

DAY = 86400.0
NOW = 1_795_000_000.0


def commit_until_full(store: Store, start: int) -> int:
    """Commit records until the store says it is full; returns how many went in."""
    for n in range(start, start + 50_000):
        try:
            store.commit(record(n))
        except StoreFull:
            return n - start
    raise AssertionError("the store never filled up")


def test_retention_deletes_only_acknowledged_old_records(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        ages = (40, 35, 31, 29, 1, 45)          # days before NOW
        for n, age in enumerate(ages):
            store.commit(record(n, ts=rfc3339(NOW - age * DAY)))
        store.mark_synced(1, 5)                 # seq 6 (45 days old) was never acked
        assert store.prune(30, NOW) == 3
        kept = {r["seq"]: r["synced"] for r in store.records()}
        assert kept == {4: True, 5: True, 6: False}
        assert store.prune(30, NOW) == 0
        store.mark_synced(6, 6)
        assert store.prune(30, NOW) == 1
        assert store.commit(record(9)) == 7     # the deleted highest seq is not reused


def test_retention_forgets_passes_expired_longer_than_retention(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        store.commit(record(1), passed=("old", int(NOW - 31 * DAY)))
        store.commit(record(2), passed=("recent", int(NOW - 2 * DAY)))
        store.prune(30, NOW)
        assert not store.has_passed("old") and store.has_passed("recent")


def test_sync_worker_runs_retention_even_offline(tmp_path):
    path = tmp_path / "cp.db"
    with Store(path) as store:
        store.commit(record(1, ts=rfc3339(time.time() - 40 * DAY)))
        store.commit(record(2, ts=rfc3339(time.time() - 40 * DAY)))
        store.mark_synced(1, 1)
        sync = Sync("mqtt://127.0.0.1:9", device="dev-0001", store_path=path,
                    clock=FakeClock(now=time.time()), retention_days=30,
                    timing=Timing(reconnect_min_s=5.0))
        sync.start()
        try:
            sync.notify()
            deadline = time.monotonic() + 5
            while store.count() == 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            sync.stop()
        assert [r["seq"] for r in store.records()] == [2]


def test_full_disk_fails_one_commit_and_loses_nothing(small_disk):  # noqa: F811
    path = small_disk / "cp.db"
    with Store(path) as store:
        before = [store.commit(record(n)) for n in range(50)]
        filler = fill(small_disk)
        more = commit_until_full(store, 100)
        assert store.alarm == "disk_full"
        with pytest.raises(StoreFull, match="full"):
            store.commit(record(99_999))
        assert store.count() == len(before) + more
        os.remove(filler)
        store.commit(record(100_000))           # space back: writing resumes
        assert store.alarm is None
    with Store(path) as store:
        assert store.count() == len(before) + more + 1
        assert store._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_database_size_limit_behaves_like_a_full_disk(tmp_path):
    with Store(tmp_path / "cp.db") as store:
        store.commit(record(0))
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count={pages + 2}")
        stored = commit_until_full(store, 1) + 1
        assert store.alarm == "disk_full" and store.count() == stored
        assert store.backlog()[0] == stored


def test_a_store_that_cannot_write_fails_the_commit_not_the_program(tmp_path):
    path = tmp_path / "cp.db"
    with Store(path) as store:
        store.commit(record(1))
        store._db.execute("PRAGMA busy_timeout=50")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")       # another writer that never lets go
        try:
            with pytest.raises(StoreError, match="locked"):
                store.commit(record(2), passed=("cc", int(NOW)))
            assert store.alarm == "store_failing" and store.has_passed("cc")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        store.commit(record(3))
        assert store.alarm is None and store.count() == 2


def test_gate_keeps_deciding_on_a_full_disk(demo_dir, small_disk, caplog):  # noqa: F811
    clock = FakeClock(now=time.time())     # the demo bundles are valid from their making
    controller, store, gate = make_controller(demo_dir, small_disk / "cp.db", clock)
    openings: list = []
    gate.open = lambda pulse_s=None: openings.append(store.count())
    try:
        first = Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0)
        assert controller.handle_scan(first).seq == 1
        filler = fill(small_disk)
        commit_until_full(store, 0)
        text = green_pass(demo_dir, clock)
        step_up(controller.thermal, clock)      # the next person
        with caplog.at_level(logging.ERROR, logger="checkpoint"):
            unstored = controller.handle_scan(Scan(text, clock.monotonic(), 1.0))
        assert (unstored.decision, unstored.seq) == ("pass", None)
        assert len(openings) == 2               # the gate opened all the same
        assert "record_not_stored" in caplog.text and "disk_full" in caplog.text
        # Its replay memory could not be written either, yet a second showing is caught.
        assert controller.handle_scan(Scan(text, clock.monotonic(), 1.0)).reasons == ("replayed",)
        os.remove(filler)
        step_up(controller.thermal, clock)
        assert controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0)).seq
        assert store.alarm is None
    finally:
        store.close()


def test_garbage_file_is_moved_aside_and_a_new_store_started(tmp_path, caplog):
    path = tmp_path / "cp.db"
    garbage = os.urandom(8192)
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="not a database"):
        Store(path)                             # a reader never moves a store aside
    assert path.read_bytes() == garbage
    with caplog.at_level(logging.ERROR, logger="checkpoint"), \
            Store(path, recover=True) as store:
        assert store.count() == 0 and store.commit(record(1)) == 1
    kept = list(tmp_path.glob("cp.db.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    assert "store_corrupt" in caplog.text and str(kept[0]) in caplog.text


def test_damaged_page_is_found_and_the_store_replaced(tmp_path):
    path = tmp_path / "cp.db"
    with Store(path) as store:
        for n in range(300):
            store.commit(record(n))
        old_id = store.store_id
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    noise = os.urandom(page)
    with open(path, "r+b") as damaged:
        damaged.seek(3 * page)
        damaged.write(noise)
    with Store(path, recover=True) as store:
        assert store.store_id != old_id and store.count() == 0
    kept = list(tmp_path.glob("cp.db.corrupt-*"))
    assert len(kept) == 1 and noise in kept[0].read_bytes()


def test_agent_starts_a_new_store_beside_a_corrupt_one(demo_dir, tmp_path):
    db = tmp_path / "cp.db"
    db.write_bytes(b"not a database, just garbage " * 300)
    run = subprocess.run([sys.executable, "-m", "cli.main", "run", "--config",
                          str(demo_dir / "checkpoint.toml"), "--simulate", "--db", str(db),
                          "--duration", "0.5"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    corrupt = [line for line in run.stdout.splitlines() if "event=store_corrupt" in line]
    assert len(corrupt) == 1 and "level=error" in corrupt[0]
    kept = list(tmp_path.glob("cp.db.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"not a database")
    assert f"kept_as={kept[0]}" in corrupt[0]
    with Store(db) as store:
        assert store.store_id in run.stdout     # the `started` line names the new store


def test_corrupt_files_moved_aside_in_the_same_second_are_all_kept(tmp_path):
    path = tmp_path / "cp.db"
    for n in range(3):
        path.write_bytes(b"garbage %d " % n * 500)
        Store(path, recover=True).close()
    kept = sorted(p.read_bytes()[:9] for p in tmp_path.glob("cp.db.corrupt-*"))
    assert kept == [b"garbage 0", b"garbage 1", b"garbage 2"]
