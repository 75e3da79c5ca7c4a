"""Running the agent as a user does: the real command line in a child process."""

from __future__ import annotations

import signal
import subprocess
import threading

from tests.support.paths import CHECKPOINT, REPO


def run_until_decisions(args: list[str], count: int, timeout: float = 60.0):
    """Start the agent, wait for `count` decision lines, then Ctrl-C it."""
    proc = subprocess.Popen(CHECKPOINT + args, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for line in proc.stdout:
            lines.append(line)
            if sum("event=decision" in entry for entry in lines) >= count:
                done.set()
        done.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    done.wait(timeout)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    thread.join(timeout=5)
    return proc.returncode, lines, proc.stderr.read()
