"""The guarded loop every thread runs: a failing item is logged and skipped, a repeating
failure backs off, a thread that dies anyway is reported at once."""

from __future__ import annotations

import ctypes
import queue
import threading

from runtime.worker import Backoff, Supervisor, Worker
from tests.support.waiting import wait_for


def test_an_item_that_raises_is_logged_with_its_description_and_the_rest_go_on(caplog):
    items: queue.Queue = queue.Queue()
    handled = []

    def handle(item):
        if item == "poison":
            raise ValueError("bad item")
        handled.append(item)

    def take():
        try:
            return items.get(timeout=0.1)
        except queue.Empty:
            return None

    worker = Worker("test-worker", handle, take=take, describe=lambda item: f"item {item}")
    for item in ("a", "poison", "b"):
        items.put(item)
    worker.start()
    try:
        wait_for(lambda: handled == ["a", "b"], "both good items")
    finally:
        worker.stop()
    assert worker.errors == 1 and worker.state == "stopped" and worker.died is None
    (line,) = [r.getMessage() for r in caplog.records if "worker_error" in r.getMessage()]
    assert "worker=test-worker" in line and 'item="item poison"' in line
    assert "ValueError('bad item')" in line


def test_a_repeating_failure_backs_off_instead_of_spinning():
    calls = []

    def always_failing():
        calls.append(1)
        raise OSError("device gone")

    worker = Worker("failing", always_failing, backoff=Backoff(first=0.05, limit=0.4))
    worker.start()
    try:
        wait_for(lambda: len(calls) >= 4, "four attempts")
    finally:
        worker.stop()
    # 0.05 + 0.1 + 0.2 s before the 4th attempt: a spinning loop would have made thousands.
    assert len(calls) < 20


def test_backoff_doubles_to_its_limit_and_starts_again_after_a_success():
    backoff = Backoff(first=0.5, limit=3.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_a_thread_killed_from_outside_is_reported_to_its_supervisor():
    supervisor = Supervisor()
    ticking = threading.Event()
    worker = Worker("victim", lambda: ticking.set() or ticking.wait(0.01))
    supervisor.adopt(worker)
    worker.start()
    try:
        wait_for(ticking.is_set, "the worker running")
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker._thread.ident),
                                                   ctypes.py_object(SystemExit))
        assert supervisor.failed.wait(5)
    finally:
        worker.stop()
    assert supervisor.dead() == ["victim"]
    assert supervisor.states() == {"victim": "dead: SystemExit()"}


def test_a_probed_thread_that_ends_counts_as_dead_once_and_stays_so(caplog):
    alive = [True]
    supervisor = Supervisor()
    supervisor.probe("library-thread", lambda: alive[0])
    assert supervisor.dead() == [] and not supervisor.failed.is_set()
    alive[0] = False
    assert supervisor.dead() == ["library-thread"] and supervisor.failed.is_set()
    alive[0] = True             # a dead thread does not come back to life
    assert supervisor.dead() == ["library-thread"]
    assert sum("worker_died" in r.getMessage() for r in caplog.records) == 1
