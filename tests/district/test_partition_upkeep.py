"""A receiver that serves for months keeps making the months ahead (district/
partition_upkeep.py): records of a month its start never made still land in their own
partition, not in DEFAULT; a database away is logged and tried again, never raised."""

from __future__ import annotations

import logging
import uuid

import pytest

from district.partition_upkeep import RETRY_S, PartitionUpkeep
from district.stores import open_store
from district.stores.partitions import month_start
from tests.district.test_partitions import batch, record, where
from tests.support.postgres import pg_server  # noqa: F401 - fixture

DAY_S = 86400.0
EVERY_S = 3600.0


class Clocks:
    """The monotonic clock the upkeep schedules by, and the wall time it makes months
    for, moved on together."""

    def __init__(self, wall: float) -> None:
        self.mono, self.wall = 1000.0, wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


@pytest.fixture
def url(pg_server):  # noqa: F811 - the imported fixture
    return pg_server.new_database()


def created(done: list[dict]) -> list[str]:
    """The partitions a tick made (the rest of what it lists was there already: the
    store's opening makes the months of the real date)."""
    return [entry["partition"] for entry in done if entry["action"] == "created"]


def upkeep_for(url: str, clocks: Clocks, open_store_=None) -> PartitionUpkeep:
    return PartitionUpkeep(open_store_ or (lambda: open_store(url)), clock=lambda: clocks.mono,
                           wall=lambda: clocks.wall, every_s=EVERY_S, ahead=1)


def test_months_a_long_run_reaches_get_their_partitions(url):
    start = month_start(2026, 1)
    clocks = Clocks(start)
    with open_store(url) as store:
        store.partitions(ahead=1, now_s=start)          # what the start made: Jan, Feb
        upkeep = upkeep_for(url, clocks)
        assert upkeep.tick() is None                    # not due yet
        clocks.advance(70 * DAY_S)                      # March 2026 now
        assert created(upkeep.tick()) == ["records_2026_03", "records_2026_04"]
        assert upkeep.tick() is None                    # due again only EVERY_S later
        store.commit_batch("dev-1", batch(str(uuid.uuid4()),
                                          record(1, "2026-03-10T08:00:00.000Z"),
                                          record(2, "2026-04-30T23:59:59.000Z")))
    assert where(url) == {1: "records_2026_03", 2: "records_2026_04"}


def test_a_database_away_is_logged_and_tried_again_later(url, caplog):
    caplog.set_level(logging.INFO, logger="checkpoint")
    clocks = Clocks(month_start(2026, 5))
    away = True

    def opening():
        if away:
            raise OSError("connection refused")
        return open_store(url)

    upkeep = upkeep_for(url, clocks, opening)
    clocks.advance(EVERY_S)
    assert upkeep.tick() is None                        # logged, not raised
    assert any("event=partition_upkeep_failed" in m and "connection refused" in m
               for m in caplog.messages)
    away = False
    clocks.advance(RETRY_S - 1)
    assert upkeep.tick() is None                        # not hammered
    clocks.advance(1)
    assert created(upkeep.tick()) == ["records_2026_05", "records_2026_06"]
    assert any("event=partitions_created" in m and "records_2026_05,records_2026_06" in m
               for m in caplog.messages)
