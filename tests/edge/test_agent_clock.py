"""A gate with neither network time nor a real-time clock says so when it starts: after a
power cut its records would carry times from 1970 until time is synced."""

from __future__ import annotations

import logging
import shutil

import pytest

from drivers.clock import SystemClock
from edge.agent import Agent
from edge.config import load_config


class Clock(SystemClock):
    def __init__(self, synced: bool) -> None:
        self._synced = synced

    def synced(self) -> bool:
        return self._synced


@pytest.mark.parametrize("synced, rtc, warned", [
    (False, None, True), (False, "/dev/rtc0", False), (True, None, False)])
def test_the_start_warns_only_without_sync_and_rtc(demo_dir, tmp_path, caplog, monkeypatch,
                                                   synced, rtc, warned):
    monkeypatch.setattr("drivers.clock.rtc_device", lambda: rtc)   # this machine has none
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    with caplog.at_level(logging.WARNING, logger="checkpoint"), Agent(config, clock=Clock(synced)):
        pass
    assert any("event=clock_unsafe" in r.getMessage() for r in caplog.records) is warned
