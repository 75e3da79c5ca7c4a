"""`checkpoint district serve --workers N` as a child process, its log lines kept as they
come: for the pool's tests and scripts/soak_district.py."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.paths import REPO

STARTED = re.compile(r"event=worker_started worker=(\d+) pid=(\d+)")


class ServePool:
    def __init__(self, config: Path, workers: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "district", "serve", "--config", str(config),
             "--workers", str(workers)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=REPO)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def count(self, text: str) -> int:
        """Log lines so far that contain `text`."""
        return sum(text in line for line in list(self.lines))

    def pids(self) -> dict[int, int]:
        """The latest pid of each worker."""
        found: dict[int, int] = {}
        for line in list(self.lines):
            if match := STARTED.search(line):
                found[int(match[1])] = int(match[2])
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
