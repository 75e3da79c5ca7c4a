"""The guard console in real headless Chromium (Debian's `chromium`, driven by Playwright).

One device shows decisions on the page within 500 ms of their commit, each with its sound;
refuses a wrong PIN; keeps a `check` on screen while later people are decided, until a
signed-in guard registers the visitor and the `check` becomes a pass record with the
guard's id; and turns the strip red when the broker goes away.

Another has its relay on gpiozero's mock pin factory and its sensor on a pseudo-terminal:
a guard's override of a deny becomes a record with his id and one pulse of the relay (a
deny opens nothing); a roster pushed over MQTT makes the visitor a resident, whose next
pass needs no guard; pulling the sensor turns the strip red.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.console import CHROMIUM, FLAGS, wait_until_shown
from district.publish import publish_retained
from drivers.sim.thermal import ThermalSimulator
from edge.agent import Agent
from edge.config import Section, load_config
from edge.guards import hash_pin
from tests.support.broker import free_port
from tests.support.configs import with_mqtt
from tests.support.roster import roster_bundle
from tests.support.waiting import wait_for

RESIDENT, VISITOR = "c1" * 16, "d2" * 16
SCENE = f"""
issuer_key = "demo/issuer-key.pem"
present_s = 3.0
gap_s = 3.0
approach_s = 0.5
loop = true
[[person]]
pass = "green"
temperature_c = 36.5
subject = "{RESIDENT}"
name = "张*明"
[[person]]
pass = "red"
temperature_c = 36.4
[[person]]
pass = "green"
temperature_c = 36.6
subject = "{VISITOR}"
"""
# CHECKPOINT_SCREENSHOTS=docs/console .venv/bin/pytest tests/edge/test_console_page.py
# saves the screenshots of docs/console/ (each main state, in both languages).
SHOTS = os.environ.get("CHECKPOINT_SCREENSHOTS")


def shot(page, state: str) -> None:
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    for _ in range(2):      # the page's language, then the other one, then back
        lang = page.evaluate("document.documentElement.lang")
        page.screenshot(path=str(Path(SHOTS) / f"{state}-{lang}.png"))
        page.click("#lang")
        page.wait_for_function(f"document.documentElement.lang !== '{lang}'")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: "
                                "`make test` installs Debian's chromium package as root")


def device(demo_dir: Path, tmp_path: Path, broker_url: str, scene: str, **urls):
    """A device with one guard (g01, PIN 246810), RESIDENT on its roster, the `scene` for
    its camera and other driver urls (`thermal=...`, `gate=...`) where given."""
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "console-scene.toml").write_text(scene)
    (own / "guards").write_text(f"g01 {hash_pin('246810')}\n")
    (own / "demo" / "roster.json").write_bytes(roster_bundle(own, 1, [RESIDENT]))
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    urls = {"camera": "sim://console-scene.toml", **urls}
    config = replace(config, **{name: Section({**getattr(config, name).values, "url": url})
                                for name, url in urls.items()})
    config = replace(config, console=Section({
        **config.console.values, "guards": own / "guards",
        "listen": f"127.0.0.1:{free_port()}"}))
    return with_mqtt(config, broker_url)


def open_page(playwright, config):
    """The console in headless Chromium, once its event stream is open (the strip shows)."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"http://{config.console.listen}/")
    page.wait_for_selector("#health .part", timeout=30_000)
    return browser, page


def sign_in(page) -> None:
    page.fill("#guard", "g01")
    page.fill("#pin", "246810")
    page.click("#signin-button")
    page.wait_for_function("document.getElementById('signin-state').textContent"
                           ".includes('g01')")


def test_a_guard_sees_decisions_signs_in_and_registers_a_visitor(demo_dir, tmp_path, broker):
    from playwright.sync_api import sync_playwright

    config = device(demo_dir, tmp_path, broker.url, SCENE)
    committed: dict[str, float] = {}    # record id -> when it was committed (ms, wall clock)
    stop = threading.Event()
    with Agent(config, console=True) as agent, sync_playwright() as playwright:
        agent.controller.listeners.append(
            lambda record, name: committed.setdefault(record.id, time.time() * 1000.0))
        watcher = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        watcher.start()     # the agent's watch loop feeds the page's health strip
        browser, page = open_page(playwright, config)
        listening = set(committed)          # decided before the page listened: not timed
        page.wait_for_selector("#verdict[data-decision='pass']", timeout=30_000)
        assert page.inner_text("#word") == "通过"
        assert "体温筛查估计 36.5 °C" in page.inner_text("#temperature")
        assert page.inner_text("#who") == "绿码 · 张*明"     # masked, as the pass carries it
        strip = page.inner_text("#health")
        assert "上报: 正常" in strip and "待上报: 正常" in strip and "信任列表: 正常" in strip
        shot(page, "pass")
        page.wait_for_selector("#verdict[data-decision='deny']", timeout=30_000)
        assert page.inner_text("#word") == "禁止"
        assert page.inner_text("#reason") == "红码 · 访客"     # every reason, in words
        shot(page, "deny")

        page.fill("#guard", "g01")
        page.fill("#pin", "000000")
        page.click("#signin-button")
        page.wait_for_function("document.getElementById('signin-state').textContent"
                               " === '工号或密码错误'")
        page.evaluate("render()")       # as every health or count event redraws the page
        assert page.inner_text("#signin-state") == "工号或密码错误"    # said until the next try
        sign_in(page)

        page.wait_for_selector("#verdict[data-decision='check']", timeout=30_000)
        assert page.inner_text("#reason") == "访客"
        # The next person is decided, but the check stays on screen until the guard acts.
        seen = agent.store.count()
        wait_for(lambda: agent.store.count() > seen, "the next person's decision")
        page.wait_for_function("document.getElementById('behind').textContent === '此后: 通过'")
        assert page.get_attribute("#verdict", "data-decision") == "check"
        assert {"pass", "deny", "check"} <= set(page.evaluate("window.soundsPlayed"))
        shot(page, "check")
        page.fill("#unit", "3-2-401")
        page.select_option("#visit-reason", "family")
        page.fill("#phone", "1234")
        page.click("#register-button")
        wait_for(lambda: any(r["operator"] == "g01" for r in agent.store.records()),
                 "the guard's record")
        page.wait_for_selector("#verdict[data-decision='pass']")
        guard_record = next(r for r in agent.store.records() if r["operator"] == "g01")
        assert guard_record["decision"] == "pass" and guard_record["subject"] == VISITOR
        assert "unit=3-2-401 reason=family phone=*1234" in guard_record["note"]

        # Each decision made while the page listened reached it within 500 ms (the bench,
        # `checkpoint bench --only console`, measures how far within).
        # The latest may still be on its way: wait until the page has shown every one.
        sent = {i: at for i, at in dict(committed).items() if i not in listening}
        shown = wait_until_shown(page, list(sent), timeout_ms=30_000)
        timed = {i: shown[i] - at for i, at in sent.items()}
        assert len(timed) >= 3
        assert max(timed.values()) < 500, timed

        page.click("#lang")
        page.wait_for_function("document.getElementById('word').textContent === 'PASS'")
        broker.stop()
        page.wait_for_selector("#health .part.bad[data-part='broker']", timeout=30_000)
        assert page.inner_text("#health .part.bad") == "Uplink: offline"
        shot(page, "fault")
        browser.close()
        stop.set()
        watcher.join(10)


GATE_SCENE = f"""
issuer_key = "demo/issuer-key.pem"
present_s = 3.0
gap_s = 3.0
approach_s = 0.5
loop = true
[[person]]
pass = "red"
temperature_c = 36.4
subject = "{RESIDENT}"
[[person]]
pass = "green"
temperature_c = 36.6
subject = "{VISITOR}"
"""
PULSE_S = 0.3


@pytest.fixture
def relay():
    """gpiozero's mock pin factory for every device made without one: pin 17 is the relay."""
    gpiozero = pytest.importorskip("gpiozero", reason="the gpio extra (make install)")
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    gpiozero.Device.pin_factory = factory
    yield factory.pin(17)
    gpiozero.Device.pin_factory = None
    factory.close()


def pulses(pin) -> list[float]:
    """How long each opening of the relay lasted (gpiozero records each change)."""
    states = pin.states     # (seconds since the previous change, the new state)
    return [after.timestamp for before, after in zip(states, states[1:], strict=False)
            if before.state and not after.state]


def test_a_guard_override_opens_the_relay_and_a_pushed_roster_admits_a_visitor(
        demo_dir, tmp_path, broker, relay):
    from playwright.sync_api import sync_playwright

    link = tmp_path / "ttyUSB-thermal"
    scene: list = []        # the sensor sees what the camera's scene shows
    sensor = ThermalSimulator(
        source=lambda: scene[0].temperature_at(time.monotonic()) if scene else 24.0)
    link.symlink_to(sensor.port)
    config = device(demo_dir, tmp_path, broker.url, GATE_SCENE,
                    thermal=f"serial://{link}?protocol=gy-mcu90614",
                    gate=f"gpio://17?pulse={PULSE_S}")
    stop = threading.Event()
    try:
        with Agent(config, console=True) as agent, sync_playwright() as playwright:
            scene.append(agent.scene)
            watcher = threading.Thread(target=agent.run, args=(stop,), daemon=True)
            watcher.start()
            browser, page = open_page(playwright, config)
            sign_in(page)
            page.wait_for_selector("#verdict[data-decision='deny']", timeout=30_000)
            assert page.inner_text("#reason") == "红码"
            assert pulses(relay) == [] and relay.state is False     # a deny opens nothing
            page.select_option("#act-reason", "medical")
            page.click("#allow")
            wait_for(lambda: any(r["operator"] == "g01" for r in agent.store.records()),
                     "the override's record")
            override = next(r for r in agent.store.records() if r["operator"] == "g01")
            assert (override["decision"], override["reasons"]) == ("pass", ["operator_allow"])
            assert override["subject"] == RESIDENT and "medical" in override["note"]
            page.wait_for_selector("#verdict[data-decision='pass']")
            wait_for(lambda: len(pulses(relay)) == 1, "the relay's pulse")

            page.wait_for_selector("#verdict[data-decision='check']", timeout=30_000)
            assert page.inner_text("#reason") == "访客"
            publish_retained(broker.url, None, f"cp/v1/{config.device.id}/config",
                             roster_bundle(config.path.parent, 2, [RESIDENT, VISITOR]))
            wait_for(lambda: agent.controller.trust.roster_version == 2, "roster 2 in force")
            page.click("#deny")         # check done: the guard turns this one away
            page.wait_for_selector("#verdict[data-decision='deny']")
            admitted = agent.store.count()
            # The visitor, now on the roster, comes again: a pass, no guard needed.
            again = lambda: [r for r in list(agent.store.records())[admitted:]  # noqa: E731
                             if r["subject"] == VISITOR]
            wait_for(again, "the visitor again", timeout=30)
            assert (again()[0]["decision"], again()[0]["reasons"]) == ("pass", [])
            page.wait_for_function("id => (window.shownAt || {})[id]", arg=again()[0]["id"])

            page.click("#signout")
            page.wait_for_selector("#signin", state="visible")
            assert page.is_hidden("#act") and page.is_hidden("#signout")

            sensor.stop()                                   # the USB adapter is pulled
            page.wait_for_selector("#health .part.bad[data-part='thermal']", timeout=30_000)
            assert page.inner_text("#health .part.bad[data-part='thermal']").startswith(
                "测温: 故障")
            browser.close()
            stop.set()
            watcher.join(10)
            passes = [r for r in agent.store.records() if r["decision"] == "pass"]
    finally:
        stop.set()
        sensor.stop()
    widths = pulses(relay)
    assert len(widths) == len(passes)       # one pulse per pass record, none for the rest
    assert all(PULSE_S <= w < PULSE_S + 1.0 for w in widths), widths
