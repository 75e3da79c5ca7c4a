"""Run `checkpoint ...` in this process and kill one of its threads from outside.

    python -m tests.support.kill_thread THREAD DB -- run --config F ...

Once the store DB holds a record, SystemExit is raised inside the thread whose name is or
starts with THREAD
(CPython's PyThreadState_SetAsyncExc, the closest thing to a thread dying of a fault the
guard cannot catch). The exit code is the command's own.
"""

from __future__ import annotations

import ctypes
import sqlite3
import sys
import threading
import time
from pathlib import Path

from cli.main import main


def _records(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_when_ready(name: str, db: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        target = next((t for t in threading.enumerate() if t.name.startswith(name)), None)
        if target is not None and _records(db) > 0:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target.ident),
                                                       ctypes.py_object(SystemExit))
            return
        time.sleep(0.05)


if __name__ == "__main__":
    thread, db, separator, *argv = sys.argv[1:]
    assert separator == "--", "usage: kill_thread THREAD DB -- ARGS..."
    threading.Thread(target=_kill_when_ready, args=(thread, Path(db)), daemon=True).start()
    sys.exit(main(argv))
