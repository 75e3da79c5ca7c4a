"""The whole agent on a disk that fills up, then frees: the gate keeps deciding, the guard
and the district are told, nothing committed is lost, and delivery catches up."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from tests.support.broker import Broker
from tests.support.paths import REPO
from tests.support.small_disk import fill, small_disk  # noqa: F401 - fixture
from tests.support.waiting import wait_for

SCENARIO = ('issuer_key = "demo/issuer-key.pem"\npresent_s = 0.5\ngap_s = 0.2\nloop = true\n'
            '[[person]]\npass = "green"\ntemperature_c = 36.5\n'
            '[[person]]\npass = "red"\ntemperature_c = 36.6\n')




def device_ids(db: Path) -> list[str]:
    """The device's records, read without writing: the disk may be full."""
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT id FROM records")]
        except sqlite3.OperationalError:
            return []       # created, not yet migrated


def watch_status(broker: Broker, seen: list):
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_: c.subscribe("cp/v1/demo-0001/status", qos=1)
    client.on_message = lambda c, u, m: seen.append(json.loads(m.payload))
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


@pytest.mark.slow
def test_agent_on_a_disk_that_fills_up(demo_dir, tmp_path, small_disk):  # noqa: F811
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    (demo_dir / "full-scenario.toml").write_text(SCENARIO)
    config = demo_dir / "full.toml"
    config.write_text((demo_dir / "checkpoint.toml").read_text()
                      .replace("sim://demo-scenario.toml", "sim://full-scenario.toml")
                      .replace("mqtt://127.0.0.1:1883", broker.url))
    db = small_disk / "cp.db"
    storage = DistrictStore(tmp_path / "district.db")
    receiver, statuses = Receiver(broker.url, storage), []
    receiver.start()
    watcher = watch_status(broker, statuses)
    agent = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--config",
                              str(config), "--simulate", "--db", str(db)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(agent.stdout), daemon=True).start()
    try:
        wait_for(lambda: len(device_ids(db)) >= 2, "the first records")
        filler = fill(small_disk)
        wait_for(lambda: any(s.get("alarm") == "disk_full" for s in statuses),
                 "the alarm in the status")
        stored_while_full = len(device_ids(db))
        wait_for(lambda: sum("event=record_not_stored" in line for line in lines) >= 2,
                 "decisions made on the full disk")
        filler.unlink()
        wait_for(lambda: len(device_ids(db)) > stored_while_full, "records stored again")
        wait_for(lambda: statuses[-1].get("alarm") is None, "the alarm cleared")
        agent.send_signal(signal.SIGINT)
        assert agent.wait(timeout=20) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
        watcher.disconnect()
        receiver.stop()
        broker.stop()
    decided = device_ids(db)
    not_stored = [line for line in lines if "event=record_not_stored" in line]
    assert all("level=error" in line and "alarm=disk_full" in line for line in not_stored)
    # Every record the device holds reached the district once; the unstored decisions
    # exist only in the log, which the guard and the journal saw.
    rows = [r["id"] for r in storage.records()]
    storage.close()
    assert sorted(rows) == sorted(decided)
    print(f"decisions={sum('event=decision' in line for line in lines)} "
          f"stored={len(decided)} not_stored={len(not_stored)} district={len(rows)}")
