"""The channel fuzzer runs end to end on a short run and reports what it claims: the three
inbound channels with their counts, decisions throughout, every invariant held."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "fuzz_channels.py"
MESSAGES = 300


def test_fuzz_channels_short_run():
    command = [sys.executable, str(SCRIPT), "--messages", str(MESSAGES), "--seed", "7",
               "--slice-s", "1", "--scan-rate", "10", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    assert done.returncode == 0, (report.get("invariants"), report.get("guarded_errors"),
                                  report.get("sync"), done.stderr[-2000:])
    assert set(report["channels"]) == {"bundle", "ack", "records"}
    for channel in report["channels"].values():
        assert channel["published"] == channel["pubacked"] == MESSAGES
        assert channel["delivered"] == channel["processed"] == MESSAGES
        assert sum(channel["kinds"].values()) == MESSAGES and len(channel["kinds"]) > 10
    decisions = report["decisions"]
    assert decisions["min_per_slice"] > 0 and len(decisions["per_slice"]) >= 3
    assert report["sync"]["synced_missing"] == 0 and report["sync"]["device_synced"] > 0
    assert all(report["invariants"].values()) and report["ok"]


def test_fuzz_channels_human_report_names_the_channels():
    command = [sys.executable, str(SCRIPT), "--messages", "50", "--seed", "3",
               "--channels", "ack", "--kinds", "forged_full_range,other_store,bytes"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.split()[:2] == ["ack", "50"] for line in lines)
    assert "invariants: delivered ok" in done.stdout


def test_fuzz_channels_refuses_unknown_channel_in_one_line():
    done = subprocess.run([sys.executable, str(SCRIPT), "--channels", "status"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--channels" in done.stderr and "Traceback" not in done.stderr
