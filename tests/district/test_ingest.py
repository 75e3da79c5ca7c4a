"""The receiver's writer (district/ingest.py) on a real store: what queues while a commit
runs is committed together, acks come only after the commit, a failing store acks nothing
and is tried again, the queue is bounded, and stopping commits what is queued. On
PostgreSQL a second connection commits while the first one's commit is held, and statuses
wait for the first. Last, the whole receiver under `district serve` with its writer thread
killed: the process ends for its service manager."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from district.ingest import Incoming, StatusUpdate, Writer
from district.stores import open_store
from models.wire import SCHEMA_STATUS
from tests.support.broker import publisher
from tests.support.loglines import captured_lines
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.waiting import wait_for
from tests.support.wire import record_id
from tests.support.wire import wire_batch as batch
from tests.support.wire import wire_record as record


@pytest.fixture
def store(district_store_url):  # noqa: F811 - the imported fixture
    with open_store(district_store_url) as opened:
        yield opened


def arriving(store, device: str, wire: dict) -> Incoming:
    """A batch as the receiver's network thread hands it to the writer."""
    return Incoming(store.prepare(device, wire), wire)


class Acks:
    """The writer's `done`: what was acked, with the store's count at that moment (a
    second connection, so it sees only what is committed)."""

    def __init__(self, url: str) -> None:
        self.reader = open_store(url)
        self.flushes: list[tuple[list[str], list, int]] = []

    def __call__(self, items, outcomes, commit_s) -> None:
        self.flushes.append(([item.batch["batch"] for item in items],
                             [o.accepted for o in outcomes], self.reader.count()))

    @property
    def batches(self) -> int:
        return sum(len(ids) for ids, _, _ in self.flushes)


class Gate:
    """Holds the store's first commit until opened: batches queue meanwhile."""

    def __init__(self, store) -> None:
        self.store, self.entered, self.opened = store, threading.Event(), threading.Event()
        self._real = store.commit_prepared
        store.commit_prepared = self._commit

    def _commit(self, prepared):
        self.entered.set()
        self.opened.wait(30)
        return self._real(prepared)


def test_what_queues_during_a_commit_is_committed_together(store, district_store_url):  # noqa: F811
    acks = Acks(district_store_url)
    gate = Gate(store)
    writer = Writer(store, acks, connections=1)
    writer.start()
    try:
        assert writer.submit(arriving(store, "dev-1", batch(record(1))))
        assert gate.entered.wait(10)
        for seq in range(2, 12):
            assert writer.submit(arriving(store, "dev-1", batch(record(seq))))
        gate.opened.set()
        wait_for(lambda: acks.batches == 11, "11 batches acked")
    finally:
        writer.stop()
        acks.reader.close()
    assert [len(ids) for ids, _, _ in acks.flushes] == [1, 10]
    assert acks.flushes[1][1] == [[[seq, seq]] for seq in range(2, 12)]
    # each ack was sent only once its rows were committed and visible to another reader
    assert [count for _, _, count in acks.flushes] == [1, 11]


def test_a_flush_is_bounded_by_records(store, district_store_url):  # noqa: F811
    acks = Acks(district_store_url)
    writer = Writer(store, acks, flush_records=4)
    for first in range(1, 13, 3):      # four batches of three records, queued before start
        three = batch(*(record(seq) for seq in range(first, first + 3)))
        writer.submit(arriving(store, "dev-1", three))
    writer.start()
    try:
        wait_for(lambda: acks.batches == 4, "4 batches acked")
    finally:
        writer.stop()
        acks.reader.close()
    assert [len(ids) for ids, _, _ in acks.flushes] == [1, 1, 1, 1]
    assert store.count() == 12


def test_a_failing_store_acks_nothing_and_the_resend_is_committed(store,
                                                                   district_store_url):  # noqa: F811
    acks = Acks(district_store_url)
    real = store._note_stores
    failing = threading.Event()
    failing.set()

    def note_store(*args):
        if failing.is_set():
            raise OSError(28, "No space left on device")
        return real(*args)
    store._note_stores = note_store
    writer = Writer(store, acks, connections=1)
    with captured_lines() as lines:
        writer.start()
        try:
            writer.submit(arriving(store, "dev-1", batch(record(1), record(2))))
            wait_for(lambda: any("event=receiver_error" in line for line in lines),
                     "the failure logged")
            assert acks.flushes == [] and store.count() == 0
            failing.clear()
            writer.submit(arriving(store, "dev-1", batch(record(1), record(2))))   # the resend
            wait_for(lambda: acks.batches == 1, "the resend acked")
        finally:
            writer.stop()
            acks.reader.close()
    assert acks.flushes[0][1] == [[[1, 2]]] and store.count() == 2
    assert any("No space left" in line for line in lines if "receiver_error" in line)


def test_the_queue_is_bounded(store, district_store_url):  # noqa: F811
    acks = Acks(district_store_url)
    writer = Writer(store, acks, max_pending=5, submit_wait_s=0.05)   # not started
    assert writer.submit(arriving(store, "dev-1", batch(*(record(s) for s in range(1, 5)))))
    assert not writer.submit(arriving(store, "dev-1", batch(record(5), record(6))))
    assert writer.submit(StatusUpdate("dev-1", {"schema": SCHEMA_STATUS}))  # 5 of 5
    writer.start()
    writer.stop()
    acks.reader.close()
    assert store.count() == 4       # the turned-away batch goes unacked: its device resends
    assert not writer.submit(arriving(store, "dev-1", batch(record(5))))   # stopped: not taken


def test_stopping_commits_and_acks_what_is_queued(store, district_store_url):  # noqa: F811
    acks = Acks(district_store_url)
    writer = Writer(store, acks, linger_s=5.0)     # a linger that stopping cuts short
    for seq in (1, 2, 3):
        writer.submit(arriving(store, "dev-1", batch(record(seq))))
    writer.start()
    writer.stop()
    acks.reader.close()
    assert acks.batches == 3 and store.count() == 3 and not writer.alive


def test_statuses_keep_their_place_among_batches(store, district_store_url):  # noqa: F811
    acks = Acks(district_store_url)
    status = {"schema": SCHEMA_STATUS, "device": "dev-1", "online": True}
    writer = Writer(store, acks, connections=1)
    writer.submit(arriving(store, "dev-1", batch(record(1))))
    writer.submit(StatusUpdate("dev-1", status))
    writer.submit(arriving(store, "dev-1", batch(record(2, id=record_id(2)))))
    writer.start()
    writer.stop()
    acks.reader.close()
    assert [len(ids) for ids, _, _ in acks.flushes] == [1, 1]
    assert [(row["device"], row["online"]) for row in store.devices()] == [("dev-1", True)]


class HoldFirst:
    """Holds the first commit on either of the writer's connections until opened; the
    rest pass. Wraps the store given and the sibling connection it makes for the writer."""

    def __init__(self, store) -> None:
        self.entered, self.opened = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._wrap(store)
        make_sibling = store.sibling
        store.sibling = lambda: self._wrap(make_sibling())

    def _wrap(self, store):
        real = store.commit_prepared

        def commit(prepared):
            with self._lock:
                first = not self.entered.is_set()
                self.entered.set()
            if first:
                self.opened.wait(30)
            return real(prepared)
        store.commit_prepared = commit
        return store


def test_a_second_connection_commits_while_the_first_is_held(pg_server):  # noqa: F811
    url = pg_server.new_database()
    with open_store(url) as store:
        acks = Acks(url)
        gate = HoldFirst(store)
        writer = Writer(store, acks)
        writer.start()
        try:
            assert len(writer._threads) == 2
            assert writer.submit(arriving(store, "dev-1", batch(record(1))))
            assert gate.entered.wait(10)
            for seq in range(2, 12):
                assert writer.submit(arriving(store, "dev-1", batch(record(seq))))
            wait_for(lambda: acks.batches == 10, "the other ten acked while one is held")
            assert acks.reader.count() == 10 and not gate.opened.is_set()
            gate.opened.set()
            wait_for(lambda: acks.batches == 11, "the held one acked")
        finally:
            writer.stop()
            acks.reader.close()
    assert sorted(seq for _, accepted, _ in acks.flushes for ranges in accepted
                  for seq, _ in ranges) == list(range(1, 12))


def test_a_second_connection_that_fails_leaves_the_writer_with_one(store,
                                                                  district_store_url):  # noqa: F811
    from district.stores.sql import DistrictStoreError

    def refused():
        raise DistrictStoreError("district store: too many clients already")
    store.sibling = refused
    acks = Acks(district_store_url)
    writer = Writer(store, acks)
    with captured_lines() as lines:
        writer.start()
        try:
            assert writer.submit(arriving(store, "dev-1", batch(record(1))))
            wait_for(lambda: acks.batches == 1, "the batch acked")
            assert writer.alive and len(writer._threads) == 1
        finally:
            writer.stop()
            acks.reader.close()
    assert any("event=writer_connection_failed" in line and "too many clients" in line
               for line in lines)


def test_statuses_are_left_for_the_first_connection(store, district_store_url):  # noqa: F811
    """What a second writer thread may take: the batches before the first status queued;
    the first thread takes the statuses, in their order, and what follows them."""
    writer = Writer(store, Acks(district_store_url), connections=2)     # not started
    first, second = (StatusUpdate("dev-2", {"schema": SCHEMA_STATUS, "online": online})
                     for online in (True, False))
    items = [arriving(store, "dev-1", batch(record(1))), first,
             arriving(store, "dev-1", batch(record(2))), second]
    for item in items:
        writer.submit(item)
    assert writer._take(statuses=False) == items[:1]
    writer.stop()                   # stopping: a thread with nothing it may take ends
    assert writer._take(statuses=False) == []
    assert writer._take(statuses=True) == items[1:]


def test_a_dead_writer_thread_ends_district_serve(tmp_path, broker):
    db = tmp_path / "district.db"
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "sqlite:///{db}"\n')
    serve = subprocess.Popen(
        [sys.executable, "-m", "tests.support.kill_thread", "district-writer", str(db), "--",
         "district", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        client = publisher(broker)
        try:
            sent = [0.0]

            def ended() -> bool:   # a batch every 0.5 s, until the receiver is there to store it
                if time.monotonic() - sent[0] > 0.5:
                    client.publish("cp/v1/dev-1/records", json.dumps(batch(record(1))), qos=1)
                    sent[0] = time.monotonic()
                return serve.poll() is not None
            wait_for(ended, "district serve to end", timeout=60)
        finally:
            client.disconnect()
        out, err = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 1
    assert "writer thread died" in err and "event=worker_died" in out + err
