"""The real agent through the faults a gate meets: a relay that fails to open, a camera that
fails every other read, a sensor unplugged and plugged back, a scan that makes the
verifier raise. Decisions go on, the status (on a real Mosquitto) names each fault, and
the district (a real receiver) holds every record exactly once.

The sensor is the real serial driver on a pseudo-terminal behind a symlink, as udev gives
a USB adapter a stable name; unplugging is the simulator going away.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import replace

from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from drivers.sim.thermal import ThermalSimulator
from edge.agent import Agent
from edge.config import Config, Section, load_config
from edge.store import Store
from models.verify import verify_pass
from tests.support.broker import raw_client
from tests.support.configs import with_mqtt
from tests.support.waiting import wait_for

SCENARIO = """
issuer_key = "demo/issuer-key.pem"
present_s = 2.0
gap_s = 0.8
approach_s = 0.5      # 0.3 s of background between two people: the sensor tells them apart
loop = true
[[person]]
pass = "green"
temperature_c = 36.5
"""


class FlakyVerifier:
    """The real verifier, except that every `every`-th pass makes it raise (a bug)."""

    def __init__(self, every: int) -> None:
        self.every, self.calls = every, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls % self.every == 0:
            raise RuntimeError("verifier bug")
        return verify_pass(*args, **kwargs)


def faulty_config(demo_dir, tmp_path, broker, sensor_link) -> Config:
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "faults.toml").write_text(SCENARIO)
    config = load_config(own / "checkpoint.toml").with_db(tmp_path / "cp.db")
    urls = {"camera": "sim://faults.toml?fail_every=2", "gate": "sim://?fail_every=2",
            "thermal": f"serial://{sensor_link}?protocol=gy-mcu90614"}
    sections = {name: Section({**getattr(config, name).values, "url": url})
                for name, url in urls.items()}
    return with_mqtt(replace(config, **sections), broker.url)


def held_ids(district: DistrictStore) -> list[str]:
    return [row["id"] for row in district.records()]


def device_records(path) -> list[dict]:
    with Store(path) as store:
        return list(store.records())


def test_decisions_go_on_through_every_fault(demo_dir, tmp_path, broker):
    link = tmp_path / "ttyUSB-thermal"
    scene: list = []        # the agent's simulated people, once it has made them
    # The sensor sees what the camera's scene shows (the background between people), so
    # the screening can tell one presenter from the next.
    source = lambda: scene[0].temperature_at(time.monotonic()) if scene else 24.0  # noqa: E731
    first = ThermalSimulator(source=source)
    link.symlink_to(first.port)
    config = faulty_config(demo_dir, tmp_path, broker, link)
    district = DistrictStore(tmp_path / "district.db")
    receiver = Receiver(broker.url, district)
    receiver.start()
    seen: list = []
    watcher = raw_client(broker, f"cp/v1/{config.device.id}/status", seen)
    statuses = lambda: [json.loads(p) for _, _, p in seen if p]  # noqa: E731
    said = lambda part, state: any(s.get(part) == state for s in statuses())  # noqa: E731
    verifier = FlakyVerifier(every=3)
    stop = threading.Event()
    second = None
    try:
        with Agent(config, verify=verifier) as agent:
            scene.append(agent.scene)
            runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
            runner.start()
            store = agent.store
            wait_for(lambda: store.count() >= 4, "four decisions", timeout=60)
            wait_for(lambda: said("camera", "fault: read failing; reopening"), "camera fault")
            wait_for(lambda: said("gate", "fault: open failed: OSError"), "gate fault")

            first.stop()                                    # the USB adapter is pulled
            wait_for(lambda: said("thermal", "fault: port gone; reopening"), "sensor fault")
            before = store.count()
            second = ThermalSimulator(source=source)
            os.unlink(link)
            link.symlink_to(second.port)                    # and plugged back
            wait_for(lambda: said("thermal", "ok") and statuses()[-1]["thermal"] == "ok",
                     "sensor back", timeout=30)
            wait_for(lambda: store.count() >= before + 2, "decisions after the replug", 60)
            stop.set()
            runner.join(10)
            assert agent.failed == []
            controller = agent.controller
            assert controller.gate_failures >= 1 and controller.scans_failed >= 1
        rows = device_records(tmp_path / "cp.db")
        wait_for(lambda: len(held_ids(district)) == len(rows), "everything delivered")
    finally:
        stop.set()
        watcher.disconnect()
        receiver.stop()
        first.stop()
        if second:
            second.stop()
    decisions = [(r["decision"], tuple(r["reasons"])) for r in rows]
    assert ("pass", ()) in decisions
    assert ("check", ("unreadable",)) in decisions        # the scan the verifier choked on
    assert verifier.calls >= 3
    assert sorted(held_ids(district)) == sorted(r["id"] for r in rows)  # once each, none lost
    last = statuses()[-1]
    assert last["online"] is False and last["alarm"] is None
    assert last["counters"]["camera_read_failures"] >= 2
    assert last["counters"]["gate_failures"] >= 1 and last["counters"]["scans_failed"] >= 1
    assert last["counters"]["sensor_reopens"] >= 1
    counters = last["counters"]
    assert counters["frames_decoded"] > 0 and counters["decode_ms"] > 0
    assert counters["sensor_frames"] > 0 and isinstance(counters["sensor_frames_rejected"], int)
    assert counters["frames_captured"] >= counters["frames_decoded"] > 0
    assert "frames_dropped" in counters
    assert not [name for name, state in last["workers"].items() if state.startswith("dead")]
    district.close()
