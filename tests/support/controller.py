"""A controller on real parts: the demo district's trust, a real SQLite file, a recording gate."""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from drivers.base import ThermalReading, ThermalSensor
from drivers.sim.gate import SimGate
from edge.controller import Controller
from edge.store import Store
from edge.thermal import ThermalMonitor
from edge.trust import load_trust
from models import cp1
from tests.support.clock import FakeClock


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
    if temps:
        step_up(thermal, clock, temps, seconds=1.2)
    gate = SimGate(clock=clock)
    store = Store(db)
    controller = Controller(store=store, trust=trust, thermal=thermal, gate=gate, clock=clock,
                            gate_name="east-1", measure_wait_s=wait_s)
    return controller, store, gate


def step_up(thermal: ThermalMonitor, clock: FakeClock, temps=(36.5, 36.6, 36.5),
            seconds: float = 0.6) -> None:
    """The next person at the sensor, as it sees them: 0.3 s of background between two
    people (the change that tells them apart), then `seconds` of their readings."""
    for step in range(round((0.3 + seconds) / 0.08)):
        clock.advance(0.08)
        celsius = 24.0 if step * 0.08 < 0.3 else temps[step % len(temps)]
        thermal.add(ThermalReading(celsius, 24.0, clock.monotonic(), "gy-mcu90614"))


def green_pass(demo_dir, clock, color="green") -> str:
    key = load_pem_private_key((demo_dir / "demo" / "issuer-key.pem").read_bytes(), None)
    now = int(clock.now())
    return cp1.issue_cp1(key, iss="CN-BJ-110105", color=color, iat=now, exp=now + 120,
                         sub=os.urandom(16), cti=os.urandom(16))
