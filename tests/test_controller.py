"""The controller with real parts: pass verification, a real SQLite file, the recording gate."""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from drivers.base import ThermalReading, ThermalSensor
from drivers.clock import FakeClock
from drivers.sim.gate import SimGate
from edge.controller import Controller
from edge.scanner import Scan
from edge.store import Store
from edge.thermal import ThermalMonitor
from edge.trust import load_trust
from models import cp1


class IdleSensor(ThermalSensor):
    fault = False

    def read(self, timeout: float):
        return None


def demo_clock() -> FakeClock:
    # The demo bundles were issued when the session's demo district was made; the device
    # never judges by a clock earlier than that, so the fake clock starts at real time.
    return FakeClock(now=time.time())


def make_controller(demo_dir, db, clock, temps=(36.5, 36.6, 36.5), wait_s=0.0):
    demo = demo_dir / "demo"
    trust = load_trust([demo / "root-pub.pem"], demo / "trustlist.json",
                       demo / "revocations.json", demo / "policy.json")
    thermal = ThermalMonitor(IdleSensor(), clock=clock)
    for step in range(15 if temps else 0):  # a steady 1.2 s window at the sensor's pace
        clock.advance(0.08)
        thermal.add(ThermalReading(temps[step % len(temps)], 24.0, clock.monotonic(),
                                   "gy-mcu90614"))
    gate = SimGate(clock=clock)
    store = Store(db)
    controller = Controller(store=store, trust=trust, thermal=thermal, gate=gate, clock=clock,
                            gate_name="east-1", measure_wait_s=wait_s)
    return controller, store, gate


def green_pass(demo_dir, clock, color="green") -> str:
    key = load_pem_private_key((demo_dir / "demo" / "issuer-key.pem").read_bytes(), None)
    now = int(clock.now())
    return cp1.issue_cp1(key, iss="CN-BJ-110105", color=color, iat=now, exp=now + 120,
                         sub=os.urandom(16), cti=os.urandom(16))


def test_pass_is_committed_before_the_gate_opens(demo_dir, tmp_path):
    clock = demo_clock()
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock)
    opened_with = []
    gate.open = lambda pulse_s=None: opened_with.append(store.count())
    record = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert (record.decision, record.reasons, record.seq) == ("pass", (), 1)
    assert opened_with == [1]
    row = next(store.records())
    assert row["temperature_c"] == 36.5 and row["color"] == "green"
    assert row["pass_format"] == "CP1" and row["issuer"] == "CN-BJ-110105"


def test_denied_pass_does_not_open_the_gate(demo_dir, tmp_path):
    clock = demo_clock()
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock)
    record = controller.handle_scan(Scan(green_pass(demo_dir, clock, "red"), 0.0, 1.0))
    assert (record.decision, record.reasons) == ("deny", ("color_red",))
    assert gate.state == "closed" and not gate.events


def test_screenshot_replay_is_denied_even_after_a_restart(demo_dir, tmp_path):
    clock = demo_clock()
    text = green_pass(demo_dir, clock)
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock)
    assert controller.handle_scan(Scan(text, 0.0, 1.0)).decision == "pass"
    store.close()
    clock.advance(10)
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock,
                                              temps=(36.4,) * 3)
    record = controller.handle_scan(Scan(text, 0.0, 1.0))
    assert (record.decision, record.reasons) == ("deny", ("replayed",))
    assert [r["seq"] for r in store.records()] == [1, 2]


def test_no_temperature_asks_the_guard(demo_dir, tmp_path):
    clock = demo_clock()
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock, temps=())
    record = controller.handle_scan(Scan(green_pass(demo_dir, clock), 0.0, 1.0))
    assert (record.decision, record.reasons) == ("check", ("temperature_missing",))
    assert record.temperature_c is None


def test_a_clock_set_back_cannot_revive_an_expired_pass(demo_dir, tmp_path):
    clock = FakeClock(now=time.time() - 86400)   # RTC battery dead: a day behind
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock)
    record = controller.handle_scan(Scan(green_pass(demo_dir, clock), 0.0, 1.0))
    assert (record.decision, record.reasons) == ("deny", ("pass_expired",))
    assert not gate.events


def test_pushed_policy_takes_effect_and_rollback_is_refused(demo_dir, tmp_path):
    import base64
    import json
    import shutil

    from models.bundle import sign_bundle
    from models.keys import load_private_key
    from models.timefmt import rfc3339

    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    clock = demo_clock()
    controller, store, _ = make_controller(own, tmp_path / "cp.db", clock)
    root = load_private_key((own / "demo" / "root-key.pem").read_bytes())

    def policy_bundle(version: int, colors: list[str]) -> bytes:
        payload = {"version": version, "issued": rfc3339(clock.now()),
                   "next_update": rfc3339(clock.now() + 86400), "allow_colors": colors,
                   "require_synced_clock": False}
        return json.dumps(sign_bundle("policy", payload, root)).encode()

    controller.apply_bundle(policy_bundle(2, ["green", "yellow"]))
    record = controller.handle_scan(Scan(green_pass(own, clock, "yellow"), 0.0, 1.0))
    assert record.decision == "pass"
    controller.apply_bundle(policy_bundle(1, ["green"]))          # an older one: refused
    assert controller.trust.policy.allow_colors == ("green", "yellow")
    on_disk = json.loads((own / "demo" / "policy.json").read_text())
    assert json.loads(base64.b64decode(on_disk["payload"]))["version"] == 2   # persisted
