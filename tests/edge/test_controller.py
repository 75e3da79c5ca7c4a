"""The controller with real parts: pass verification, a real SQLite file, the recording gate."""

from __future__ import annotations

import time

from drivers.base import ThermalReading
from edge.scanner import Scan
from tests.support.clock import FakeClock
from tests.support.controller import demo_clock, green_pass, make_controller, step_up


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
    red = green_pass(demo_dir, clock, "red")
    record = controller.handle_scan(Scan(red, clock.monotonic(), 1.0))
    assert (record.decision, record.reasons) == ("deny", ("color_red",))
    assert gate.state == "closed" and not gate.events


def test_screenshot_replay_is_denied_even_after_a_restart(demo_dir, tmp_path):
    clock = demo_clock()
    text = green_pass(demo_dir, clock)
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock)
    assert controller.handle_scan(Scan(text, clock.monotonic(), 1.0)).decision == "pass"
    store.close()
    clock.advance(10)
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock,
                                              temps=(36.4,) * 3)
    record = controller.handle_scan(Scan(text, clock.monotonic(), 1.0))
    assert (record.decision, record.reasons) == ("deny", ("replayed",))
    assert [r["seq"] for r in store.records()] == [1, 2]


def test_no_temperature_asks_the_guard(demo_dir, tmp_path):
    clock = demo_clock()
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock, temps=())
    record = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert (record.decision, record.reasons) == ("check", ("temperature_missing",))
    assert record.temperature_c is None


def test_a_clock_set_back_cannot_revive_an_expired_pass(demo_dir, tmp_path):
    clock = FakeClock(now=time.time() - 86400)   # RTC battery dead: a day behind
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock)
    record = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert (record.decision, record.reasons) == ("deny", ("pass_expired",))
    assert not gate.events


def test_pushed_policy_takes_effect_and_rollback_is_refused(demo_dir, tmp_path):
    import base64
    import json
    import shutil

    from edge.bundles import Bundles
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

    bundles = Bundles(controller, clock)
    assert bundles.apply("cp/v1/gate-1/config", policy_bundle(2, ["green", "yellow"]))
    record = controller.handle_scan(Scan(green_pass(own, clock, "yellow"), clock.monotonic(), 1.0))
    assert record.decision == "pass"
    assert not bundles.apply("cp/v1/gate-1/config", policy_bundle(1, ["green"]))  # older
    assert controller.trust.policy.allow_colors == ("green", "yellow")
    on_disk = json.loads((own / "demo" / "policy.json").read_text())
    assert json.loads(base64.b64decode(on_disk["payload"]))["version"] == 2   # persisted


def test_a_full_queue_drops_what_arrives_and_counts_it(demo_dir, tmp_path, caplog):
    from edge.controller import QUEUE_LEN

    clock = demo_clock()
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock)
    accepted = [controller.submit(Scan(f"CP1:{n}", clock.monotonic(), 1.0))
                for n in range(QUEUE_LEN + 3)]
    assert accepted.count(True) == QUEUE_LEN and accepted[-3:] == [False] * 3
    assert controller.counters()["scans_dropped"] == 3
    lines = [r.getMessage() for r in caplog.records if "controller_queue_full" in r.getMessage()]
    assert len(lines) == 3 and f"CP1:{QUEUE_LEN}" not in " ".join(lines)   # never the text
    controller.start()
    controller.stop()               # drains what was queued before it stops
    assert store.count() == QUEUE_LEN


def test_each_presenter_gets_their_own_temperature_or_a_check(demo_dir, tmp_path):
    clock = demo_clock()
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock)
    first = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert (first.decision, first.temperature_c) == ("pass", 36.5)
    # The next code, but the sensor still sees the same steady reading: it cannot tell the
    # new presenter from the last one, so it asks the guard instead of guessing.
    feed_steady(controller, clock, 36.5, 0.6)
    unseparated = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert (unseparated.decision, unseparated.reasons, unseparated.temperature_c) == \
        ("check", ("temperature_missing",), None)
    step_up(controller.thermal, clock, temps=(38.4, 38.5, 38.4))
    febrile = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert (febrile.decision, febrile.reasons, febrile.temperature_c) == \
        ("deny", ("fever",), 38.4)


def test_a_pass_denied_on_its_own_does_not_wait_for_a_temperature(demo_dir, tmp_path):
    clock = demo_clock()
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock, wait_s=2.5)
    waits = []
    measure = controller.thermal.wait_measurement
    controller.thermal.wait_measurement = lambda timeout, *a, **k: (
        waits.append(timeout) or measure(timeout, *a, **k))
    red = controller.handle_scan(Scan(green_pass(demo_dir, clock, "red"), clock.monotonic(), 1.0))
    assert (red.decision, red.reasons, red.temperature_c) == ("deny", ("color_red",), 36.5)
    step_up(controller.thermal, clock)
    green = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    assert green.decision == "pass"
    assert waits == [0.0, 2.5]      # the red pass asked for what was ready, nothing more


def feed_steady(controller, clock, celsius: float, seconds: float) -> None:
    for _ in range(round(seconds / 0.08)):
        clock.advance(0.08)
        controller.thermal.add(ThermalReading(celsius, 24.0, clock.monotonic(), "gy-mcu90614"))
