"""The one transaction guard both stores use: a failure is the error the caller sees, even
on a full disk, where SQLite has already rolled back by itself."""

from __future__ import annotations

import sqlite3

import pytest

from runtime import sqlite
from tests.support.small_disk import fill, small_disk  # noqa: F401 - fixture


def test_a_failed_transaction_is_rolled_back_and_its_error_kept(tmp_path):
    db = sqlite.connect(tmp_path / "t.db")
    db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    with pytest.raises(sqlite3.IntegrityError), sqlite.transaction(db):
        db.execute("INSERT INTO t VALUES (1)")
        db.execute("INSERT INTO t VALUES (1)")
    assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (0,) and not db.in_transaction
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA synchronous").fetchone() == (2,)       # FULL


def test_a_full_disk_is_named_as_such(small_disk):  # noqa: F811
    db = sqlite.connect(small_disk / "t.db")
    db.execute("CREATE TABLE t (x BLOB)")
    fill(small_disk)
    with pytest.raises(sqlite3.OperationalError) as raised, sqlite.transaction(db):
        db.execute("INSERT INTO t VALUES (zeroblob(1000000))")
    assert sqlite.errorcode(raised.value) == sqlite.SQLITE_FULL
    assert "full" in str(raised.value) and "no transaction" not in str(raised.value)
