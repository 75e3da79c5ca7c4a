"""`checkpoint sim thermal`: JSON on stdout when it starts and when it stops, on Ctrl-C or
SIGTERM alike; the hint for a person on stderr."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from drivers.clock import SystemClock
from drivers.thermal.serial_sensor import SerialThermal
from tests.support.paths import CHECKPOINT_SCRIPT


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stops_cleanly_and_prints_its_statistics_as_json(signum):
    server = subprocess.Popen([CHECKPOINT_SCRIPT, "sim", "thermal", "--profile", "fever"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        announced = json.loads(server.stdout.readline())
        assert announced["port"].startswith("/dev/") and announced["profile"] == "fever"
        with SerialThermal(announced["port"], clock=SystemClock()) as sensor:
            assert sensor.read(timeout=10) is not None      # it serves frames meanwhile
        server.send_signal(signum)
        out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, err
    last = json.loads(out.splitlines()[-1])
    assert last["stopped"] is True and last["port"] == announced["port"]
    assert last["stats"]["profile"] == "fever" and last["stats"]["frames_sent"] >= 1
    assert "Traceback" not in err and announced["port"] in err     # the hint stays on stderr
    assert "stopped" not in err
