"""`checkpoint run` when one of its threads dies, and when its camera is dead.

A thread that dies ends the process with exit code 1 (so systemd starts it afresh), a
one-line message on stderr and no traceback; a late subscriber to the status topic of
the real Mosquitto still learns `online: false` with the alarm `worker_died` and which
thread it was, because the status is retained. A dead camera costs almost no CPU: the
capture backs off, the scanner waits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.broker import raw_client
from tests.support.loglines import LINE
from tests.support.paths import CHECKPOINT, REPO
from tests.support.waiting import wait_for


def device_config(demo_dir: Path, folder: Path, broker_url: str, camera: str | None = None):
    shutil.copytree(demo_dir, folder)
    path = folder / "checkpoint.toml"
    text = path.read_text().replace('url = "mqtt://127.0.0.1:1883"', f'url = "{broker_url}"')
    if camera:
        text = text.replace('url = "sim://demo-scenario.toml"', f'url = "{camera}"')
    path.write_text(text)
    return path


def retained_status(broker, device: str = "demo-0001") -> dict:
    seen: list = []
    watcher = raw_client(broker, f"cp/v1/{device}/status", seen)
    try:
        wait_for(lambda: seen, "the retained status")
    finally:
        watcher.disconnect()
    return json.loads(seen[-1][2])


# paho's network thread is not ours: the agent probes it under this name.
SUPERVISED_AS = {"paho-mqtt-client-": "mqtt-network"}
WINDOW_S = 4.0      # the CPU measurement window


@pytest.mark.parametrize("thread", ["controller", "scanner", "sync", "sim-camera",
                                    "thermal-serial", "paho-mqtt-client-"])
def test_a_killed_thread_ends_the_agent_with_online_false_retained(demo_dir, tmp_path, broker,
                                                                   thread):
    config = device_config(demo_dir, tmp_path / "device", broker.url)
    db = tmp_path / "cp.db"
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.kill_thread", thread, str(db), "--",
         "run", "--config", str(config), "--simulate", "--db", str(db)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    (message,) = done.stderr.splitlines()
    assert message.startswith("checkpoint: run: ") and "died" in message
    assert "event=worker_died" in done.stdout and "event=agent_failed" in done.stdout
    assert all(LINE.match(line) for line in done.stdout.splitlines())   # agent and drivers
    status = retained_status(broker)
    assert status["online"] is False and status["alarm"] == "worker_died"
    dead = [name for name, state in status["workers"].items() if state.startswith("dead")]
    assert dead == [SUPERVISED_AS.get(thread, thread)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0     # utime + stime, in clock ticks


def test_a_dead_camera_leaves_the_agent_near_idle(demo_dir, tmp_path, broker):
    config = device_config(demo_dir, tmp_path / "device", broker.url,
                           camera="sim://demo-scenario.toml?fail_every=1")
    agent = subprocess.Popen(CHECKPOINT + ["run", "--config", str(config),
                                           "--db", str(tmp_path / "cp.db")],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: retained_status(broker).get("camera", "").startswith("fault"),
                 "the camera fault in status")
        started, used = time.monotonic(), cpu_seconds(agent.pid)
        time.sleep(WINDOW_S)    # a measurement window, not a wait for an event
        share = (cpu_seconds(agent.pid) - used) / (time.monotonic() - started)
    finally:
        agent.terminate()
        out, err = agent.communicate(timeout=20)
    assert agent.returncode == 0, err
    # A scanner spinning on a closed camera costs a whole core (share >= 1.0).
    assert share < 0.25, f"the agent used {share:.0%} of a core with a dead camera"
    assert "event=camera_read_failed" in out
