"""The doctor's runner and its clock line, without the command line: a check that raises
or hangs is that check's failure; the clock line warns without sync, names an RTC."""

from __future__ import annotations

import threading

from edge.config import load_config
from edge.doctor.clock import check_clock
from edge.doctor.result import Context, ok
from edge.doctor.runner import passed, run_one


class Clock:
    def __init__(self, synced: bool) -> None:
        self._synced = synced

    def synced(self) -> bool:
        return self._synced


def context(demo_dir, **values) -> Context:
    return Context(load_config(demo_dir / "checkpoint.toml"), **values)


def test_a_check_that_raises_is_its_own_failure(demo_dir):
    def broken(_context):
        raise KeyError("camera")

    result = run_one("camera", broken, context(demo_dir))
    assert (result.status, result.detail) == ("fail", "the check itself failed: KeyError: "
                                                      "'camera'")
    assert result.hint == "a bug in checkpoint doctor: report this line"
    assert not passed([result])


def test_a_check_that_hangs_is_reported_and_left_behind(demo_dir, monkeypatch):
    monkeypatch.setattr("edge.doctor.runner.GRACE_S", 0.0)
    release = threading.Event()
    result = run_one("sensor", lambda _c: release.wait(30) and ok("late"),
                     context(demo_dir, timeout_s=0.2))
    release.set()
    assert result.status == "fail"
    assert result.detail == "did not finish within 0.2 s"
    assert "sudo systemctl stop checkpoint" in result.hint


def test_the_clock_warns_without_sync_or_rtc(demo_dir, tmp_path):
    found = check_clock(context(demo_dir, clock=Clock(False),
                                rtc_paths=(str(tmp_path / "rtc0"), str(tmp_path / "class"))))
    assert found.status == "warn"
    assert "and no RTC: after a power cut the clock starts wrong" in found.detail
    assert found.hint.endswith("; or fit an RTC module")


def test_the_clock_names_its_rtc(demo_dir, tmp_path):
    (tmp_path / "class" / "rtc0").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    paths = (str(tmp_path / "empty"), str(tmp_path / "class"))
    synced = check_clock(context(demo_dir, clock=Clock(True), rtc_paths=paths))
    assert (synced.status, synced.detail) == ("ok", f"NTP-synchronised; RTC {tmp_path}/class/rtc0")
    unsynced = check_clock(context(demo_dir, clock=Clock(False), rtc_paths=paths))
    assert unsynced.status == "warn"
    assert unsynced.detail.endswith(f"; RTC {tmp_path}/class/rtc0 keeps the time")
