"""`district serve --workers N`: N receiver processes on one shared subscription.

Each worker is `checkpoint district serve` in a process of its own (told its index I in
CHECKPOINT_DISTRICT_WORKER, for its log lines and its metrics port), with its own
broker connection and database connection: the broker's shared subscription
(`$share/district/...`) deals the batches out among them, and the only state they share is
the database, whose unique keys keep every record once. Processes, not threads: a Python
receiver is bound by one core (decoding, checking and making rows), and a district host
has several. The same command on several hosts, against one broker cluster and one
database, is the multi-host deployment (docs/district.md).

The parent only supervises. A worker that ends is started again (after RESTART_MIN_S,
doubling up to RESTART_MAX_S while it keeps failing), and its end is logged
(`event=worker_exited`). A worker that ends with a usage error (exit 2: a broken config,
a metrics port in use) would fail the same way again, so the pool stops and passes that on.
SIGTERM or Ctrl-C reaches every worker, each commits and acks what it holds, and the
parent waits for them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from runtime import logs

RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STOP_WAIT_S = 20.0
USAGE_ERROR = 2
WORKER_ENV = "CHECKPOINT_DISTRICT_WORKER"


class Worker:
    """One receiver process of the pool, started again when it ends."""

    def __init__(self, index: int, command: list[str]) -> None:
        self.index = index
        self.command = command
        self.env = {**os.environ, WORKER_ENV: str(index)}
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.backoff_s = RESTART_MIN_S
        self.due = 0.0          # monotonic time of the next start, once it ended

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        logs.event("worker_started", worker=self.index, pid=self.process.pid)


class Pool:
    def __init__(self, config: Path, count: int, python: str = sys.executable) -> None:
        base = [python, "-m", "cli.main", "district", "serve", "--config", str(config)]
        self.workers = [Worker(index, base) for index in range(count)]
        self.stopping = threading.Event()

    def run(self, every_s: float = 0.5) -> int:
        """Start the workers and keep them running until stop(); the exit code."""
        for worker in self.workers:
            worker.start()
        code = 0
        while not self.stopping.wait(every_s):
            code = self._tend(time.monotonic())
            if code:
                break
        self._stop_all()
        return code

    def stop(self) -> None:
        self.stopping.set()

    def _tend(self, now: float) -> int:
        """Start again the workers that ended and are due; a usage error's code ends all."""
        for worker in self.workers:
            ended = worker.process.poll() if worker.process else None
            if ended is not None and worker.due == 0.0:
                logs.event("worker_exited", logging.ERROR, worker=worker.index,
                           pid=worker.process.pid, code=ended, restart_in_s=worker.backoff_s)
                if ended == USAGE_ERROR:
                    return USAGE_ERROR
                worker.due = now + worker.backoff_s
                worker.backoff_s = min(worker.backoff_s * 2, RESTART_MAX_S)
            elif ended is not None and now >= worker.due:
                worker.due = 0.0
                worker.restarts += 1
                worker.start()
            elif ended is None and worker.due == 0.0 and worker.backoff_s > RESTART_MIN_S:
                worker.backoff_s = max(RESTART_MIN_S, worker.backoff_s / 2)   # it stays up
        return 0

    def _stop_all(self) -> None:
        running = [w.process for w in self.workers if w.process and w.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
