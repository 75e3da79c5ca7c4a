"""The disk and database lines: free space where the store lives, and the store's
integrity (SQLite's quick_check on a read-only connection)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

from edge.doctor.result import Context, Finding, fail, ok, warn

MIB = 2 ** 20
FAIL_FREE = (MIB, 0.01)         # under 1 MiB or 1 %: the next records may not fit
WARN_FREE = (100 * MIB, 0.10)   # under 100 MiB or 10 %: days of records at a busy gate
DISK_HINT = ("free space on {where}: delete old files or logs (journalctl --vacuum-size), "
             "or lower [store] retention_days")


def check_disk(context: Context) -> Finding:
    where = _existing(context.store_path.parent)
    usage = shutil.disk_usage(where)
    share = usage.free / usage.total if usage.total else 0.0
    detail = f"{usage.free / MIB:.1f} MiB free of {usage.total / MIB:.0f} MiB " \
             f"({share:.0%}) on {where}"
    if usage.free < FAIL_FREE[0] or share < FAIL_FREE[1]:
        return fail(f"{detail}: nearly full", DISK_HINT.format(where=where))
    if usage.free < WARN_FREE[0] or share < WARN_FREE[1]:
        return warn(f"{detail}: getting full", DISK_HINT.format(where=where))
    return ok(detail)


def _existing(folder: Path) -> Path:
    """The store's folder, or its nearest existing parent before the agent made it."""
    return next(p for p in (folder, *folder.parents) if p.exists())


@contextlib.contextmanager
def read_only(path: Path, timeout_s: float):
    """A connection that cannot write the store. A WAL database needs its shared-memory
    file even to read, which a full disk has no room for: a store closed cleanly (no
    -wal file or an empty one, everything in the main file) is then read as immutable."""
    uri = path.resolve().as_uri()
    wal = Path(f"{path}-wal")
    closed_cleanly = not wal.exists() or wal.stat().st_size == 0    # an empty WAL holds nothing
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout_s)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
    except sqlite3.OperationalError:
        db.close()
        if not closed_cleanly:
            raise
        db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout_s)
    try:
        yield db
    finally:
        db.close()


def check_database(context: Context) -> Finding:
    path = context.store_path
    if not path.exists():
        return ok(f"no database yet at {path}: the agent creates it at its first start")
    hint = (f"stop the service and move {path} aside (keep it for the district); the agent "
            "starts a new store, and moves a corrupt one aside by itself")
    try:
        with read_only(path, context.timeout_s) as db:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            count = db.execute("SELECT COUNT(*) FROM records").fetchone()[0] \
                if "records" in tables else None
    except sqlite3.Error as exc:
        return fail(f"{path}: {exc}", hint)
    if problems != ["ok"]:
        return fail(f"{path}: integrity check failed: {'; '.join(problems)}", hint)
    if count is None:
        return fail(f"{path}: not a checkpoint store (no records table)",
                    "point [store] path at the agent's database")
    return ok(f"{path}: integrity ok, {count} records")
