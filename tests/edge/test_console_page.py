"""The guard console in real headless Chromium (Debian's `chromium`, driven by Playwright):
decisions appear on the page as they are committed, each with its sound; a wrong PIN is
refused; a `check` stays on screen while later people are decided, until a signed-in
guard registers the visitor and the `check` becomes a pass record with the guard's id;
and the health strip turns red when the broker goes away."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.console import CHROMIUM, FLAGS
from edge.agent import Agent
from edge.config import Section, load_config
from edge.guards import hash_pin
from models.bundle import sign_bundle
from models.keys import load_private_key
from models.timefmt import rfc3339
from tests.support.broker import free_port
from tests.support.configs import with_mqtt
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


def device(demo_dir: Path, tmp_path: Path, broker_url: str):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "console-scene.toml").write_text(SCENE)
    (own / "guards").write_text(f"g01 {hash_pin('246810')}\n")
    root = load_private_key((own / "demo" / "root-key.pem").read_bytes())
    now = time.time()
    roster = {"version": 1, "issued": rfc3339(now - 60), "next_update": rfc3339(now + 86400),
              "subjects": [{"sub": RESIDENT, "unit": "3-2-401"}]}
    (own / "demo" / "roster.json").write_text(json.dumps(sign_bundle("roster", roster, root)))
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = replace(config,
                     camera=Section({**config.camera.values, "url": "sim://console-scene.toml"}),
                     console=Section({**config.console.values, "guards": own / "guards",
                                      "listen": f"127.0.0.1:{free_port()}"}))
    return with_mqtt(config, broker_url)


def test_a_guard_sees_decisions_signs_in_and_registers_a_visitor(demo_dir, tmp_path, broker):
    from playwright.sync_api import sync_playwright

    config = device(demo_dir, tmp_path, broker.url)
    stop = threading.Event()
    with Agent(config, console=True) as agent, sync_playwright() as playwright:
        watcher = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        watcher.start()     # the agent's watch loop feeds the page's health strip
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"http://{config.console.listen}/")
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
        page.fill("#pin", "246810")
        page.click("#signin-button")
        page.wait_for_function("document.getElementById('signin-state').textContent"
                               ".includes('g01')")

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

        page.click("#lang")
        page.wait_for_function("document.getElementById('word').textContent === 'PASS'")
        broker.stop()
        page.wait_for_selector("#health .part.bad[data-part='broker']", timeout=30_000)
        assert page.inner_text("#health .part.bad") == "Uplink: offline"
        shot(page, "fault")
        browser.close()
        stop.set()
        watcher.join(10)
