"""Supervised threads: one guarded loop for every thread the agent and the district run.

A `Worker` calls its step over and over until it is stopped. A step that raises is
logged (naming what it was working on) and counted, and the loop goes on after a pause
that grows while failures repeat: one bad item never ends the thread, and a fault that
repeats never spins a core. A worker can still die (an exception the guard does not
catch, such as SystemExit raised into the thread); its `Supervisor` is then told at
once, and the process decides what to do: the agent reports `online: false` and exits
non-zero so that systemd starts it afresh.

Two shapes of loop share the guard:

    Worker("controller", handle, take=next_item)   # items: take() -> item | None, handle(item)
    Worker("camera", capture_one)                   # no items: step() does one round
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from runtime import logs


class Backoff:
    """Pauses that double from `first` up to `limit` while failures repeat."""

    def __init__(self, first: float = 0.05, limit: float = 5.0) -> None:
        self.first, self.limit = first, limit
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = self.first


def _kind(item: Any) -> str:
    return type(item).__name__


class Worker:
    def __init__(self, name: str, step: Callable[..., None], *,
                 take: Callable[[], Any] | None = None,
                 describe: Callable[[Any], str] = _kind,
                 backoff: Backoff | None = None) -> None:
        self.name = name
        self.errors = 0                 # steps that raised, since start
        self.last_error: str | None = None
        self.died: BaseException | None = None
        self._step, self._take, self._describe = step, take, describe
        self._backoff = backoff or Backoff()
        self._stop = threading.Event()
        self._watchers: list[Callable[[Worker], None]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    @property
    def stopping(self) -> threading.Event:
        """Set once stop() is called: a step that waits should wait on this."""
        return self._stop

    @property
    def state(self) -> str:
        """"starting", "running", "stopped", or "dead: <error>"."""
        if self.died is not None:
            return f"dead: {self.died!r}"
        if self._thread.is_alive():
            return "running"
        return "stopped" if self._stop.is_set() else "starting"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the thread to end (by itself, or by stop())."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def watch(self, on_death: Callable[[Worker], None]) -> None:
        """Call `on_death(worker)` when the thread dies (at once if it already has)."""
        with self._lock:
            if self.died is None:
                self._watchers.append(on_death)
                return
        on_death(self)

    def _main(self) -> None:
        try:
            while not self._stop.is_set():
                self._guarded_step()
        except BaseException as exc:  # the thread's last word; the supervisor acts on it
            logs.event("worker_died", logging.CRITICAL, worker=self.name, error=repr(exc))
            with self._lock:
                self.died = exc
                watchers = list(self._watchers)
            for on_death in watchers:
                on_death(self)

    def _guarded_step(self) -> None:
        item = None
        try:
            if self._take is None:
                self._step()
            else:
                item = self._take()
                if item is None:
                    return
                self._step(item)
        except Exception as exc:
            self._failed(exc, item)
        else:
            self._backoff.reset()

    def _failed(self, exc: Exception, item: Any) -> None:
        self.errors += 1
        self.last_error = repr(exc)
        pause = self._backoff.next()
        fields = {"worker": self.name, "error": repr(exc), "errors": self.errors,
                  "pause_s": pause}
        if item is not None:
            fields["item"] = _safely(self._describe, item)
        logs.event("worker_error", logging.ERROR, **fields)
        self._stop.wait(pause)


def _safely(describe: Callable[[Any], str], item: Any) -> str:
    try:
        return describe(item)
    except Exception:   # a broken description must not hide the error it describes
        return _kind(item)


class Supervisor:
    """The workers of one process and the threads it does not run itself.

    `failed` is set the moment an adopted worker dies; `check()` also asks every probe
    (a thread of a library, such as paho's network loop) whether it is still alive.
    """

    def __init__(self) -> None:
        self.failed = threading.Event()
        self._workers: list[Worker] = []
        self._probes: dict[str, Callable[[], bool]] = {}
        self._gone: set[str] = set()    # probed threads found dead (logged once)

    def adopt(self, *workers: Worker) -> None:
        for worker in workers:
            self._workers.append(worker)
            worker.watch(lambda _worker: self.failed.set())

    def probe(self, name: str, alive: Callable[[], bool]) -> None:
        self._probes[name] = alive

    def dead(self) -> list[str]:
        """Names of the workers and probed threads that died."""
        names = [w.name for w in self._workers if w.died is not None]
        for name, alive in self._probes.items():
            if name in self._gone or not alive():
                if name not in self._gone:
                    logs.event("worker_died", logging.CRITICAL, worker=name)
                    self._gone.add(name)
                names.append(name)
        if names:
            self.failed.set()
        return names

    def states(self) -> dict[str, str]:
        states = {w.name: w.state for w in self._workers}
        states.update({name: "dead" if name in self._gone or not alive() else "running"
                       for name, alive in self._probes.items()})
        return states

    def errors(self) -> int:
        """Steps that raised, over every worker."""
        return sum(w.errors for w in self._workers)
