"""The district's SQLite store on a disk that is full: the commit fails with the real
error (SQLite has already rolled back; a second rollback must not hide it), nothing is
acked, and what was stored before stays."""

from __future__ import annotations

import sqlite3

import pytest

from district.stores.sqlite import DistrictStore
from tests.support.small_disk import fill, small_disk  # noqa: F401 - fixture
from tests.support.wire import wire_batch, wire_record


def test_a_full_district_disk_fails_the_batch_with_the_real_error(small_disk):  # noqa: F811
    with DistrictStore(small_disk / "district.db") as store:
        assert store.commit_batch("dev-1", wire_batch(wire_record(1))) == ([[1, 1]], [])
        filler = fill(small_disk)
        big = [wire_record(seq, note="x" * 60_000) for seq in range(2, 40)]
        with pytest.raises(sqlite3.OperationalError, match="full") as raised:
            store.commit_batch("dev-1", wire_batch(*big))
        assert "cannot rollback" not in str(raised.value)
        filler.unlink()
        assert [r["seq"] for r in store.records()] == [1]
