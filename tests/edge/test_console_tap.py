"""Registration of a visitor by a tap of their card, at the guard console: the real agent
with a simulated reader, its console on a free loopback port, requests over real sockets
and one page in real headless Chromium. A tap is added to the agent's `Taps` as the
reader's worker adds one (a token, never the number) once the console is seen to hold
the taps for the guard, so nothing here depends on when a simulated card would come.

A registration by tap becomes a pass record with the guard's id, the visitor's card token
and kind and the registration in its note; no tap in time, no reader, a second wait at
once or a page that leaves are each refused or ended with a code, and leave no record and
no hold on the taps behind."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from dataclasses import replace

import pytest

from edge.agent import Agent
from edge.cards import Tapped
from edge.config import Section, load_config
from edge.console import server
from edge.guards import hash_pin
from models.cards import card_token, parse_card
from tests.edge.test_console_server import request, sign_in
from tests.support.broker import free_port
from tests.support.roster import roster_bundle
from tests.support.waiting import wait_for

RESIDENT, VISITOR = "c1" * 16, "d2" * 16
ID_CARD = "cnid:0123456789ABCDEF"
SCENE = f"""
issuer_key = "demo/issuer-key.pem"
present_s = 3.0
gap_s = 3.0
approach_s = 0.5
loop = false
[[person]]
pass = "green"
temperature_c = 36.6
subject = "{VISITOR}"
"""
PROBE = Tapped("0" * 32, "cnid", 0.0)     # never added: asks only whether a guard waits


def device(demo_dir, tmp_path, reader: str | None = "sim://"):
    """A device with one guard (g01, PIN 246810), RESIDENT on its roster, one visitor in
    its scene who carries no card of the scene's (the test taps for her), and the reader."""
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "tap-scene.toml").write_text(SCENE)
    (own / "guards").write_text(f"g01 {hash_pin('246810')}\n")
    (own / "demo" / "roster.json").write_bytes(roster_bundle(own, 1, [RESIDENT]))
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = replace(
        config, camera=Section({**config.camera.values, "url": "sim://tap-scene.toml"}),
        reader=Section({**config.reader.values, "url": reader}),
        trust=Section({**config.trust.values, "card_key": own / "demo" / "card.key"}),
        console=Section({**config.console.values, "guards": own / "guards",
                         "listen": f"127.0.0.1:{free_port()}"}))
    return config, (own / "demo" / "card.key").read_bytes()


def address_of(config) -> tuple[str, int]:
    host, port = config.console.listen.rsplit(":", 1)
    return host, int(port)


def visitor_check(agent) -> dict:
    """The visitor's `check` (reasons ["visitor"]), once the agent has decided it."""
    wait_for(lambda: [r for r in agent.store.records() if r["reasons"] == ["visitor"]],
             "the visitor's check")
    return next(r for r in agent.store.records() if r["reasons"] == ["visitor"])


def guards_records(agent) -> list[dict]:
    return [r for r in agent.store.records() if r["operator"]]


def signed_headers(address) -> dict:
    _, answer, cookie = sign_in(address)
    return {"Cookie": cookie, "X-CSRF-Token": answer["csrf"],
            "Content-Type": "application/json"}


def register_by_card(of: str, **extra) -> bytes:
    return json.dumps({"kind": "register", "of": of, "unit": "3-2-401", "reason": "family",
                       "by_card": True, **extra}).encode()


def tap(agent, key: bytes, card: str = ID_CARD) -> Tapped:
    """What the reader's worker keeps of a tap of `card` now: its token and kind."""
    kind, number = parse_card(card)
    tapped = Tapped(card_token(key, kind, number), kind, agent.clock.monotonic())
    agent.controller.taps.add(tapped)
    return tapped


def in_background(call):
    """`call()` on a thread of its own; the returned list gets its answer."""
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(call()), daemon=True)
    thread.start()
    return thread, answer


def test_a_visitor_registered_by_tap_is_a_pass_with_her_card_token(demo_dir, tmp_path):
    config, key = device(demo_dir, tmp_path)
    with Agent(config, console=True) as agent:
        address = address_of(config)
        check = visitor_check(agent)
        signed = signed_headers(address)
        thread, answer = in_background(lambda: request(
            address, "POST", "/api/actions", register_by_card(check["id"]), signed))
        taps = agent.controller.taps
        wait_for(lambda: taps.guards(PROBE), "the console holding the taps for the guard")
        tapped = tap(agent, key)
        thread.join(15)
        status, view, _ = answer[0]
        assert (status, view["decision"], view["operator"]) == (200, "pass", "g01")
        [record] = guards_records(agent)
        assert record["id"] == view["id"] and record["subject"] == VISITOR
        assert (record["decision"], record["reasons"]) == ("pass", [])
        assert (record["card"], record["card_kind"]) == (tapped.token, "cnid")
        assert "unit=3-2-401 reason=family" in record["note"] and "card=cnid" in record["note"]
        assert taps.used(tapped) and not taps.guards(PROBE)     # taken once, hold over
        # The check is closed: the same registration again is refused, tap or not.
        thread, answer = in_background(lambda: request(
            address, "POST", "/api/actions", register_by_card(check["id"]), signed))
        wait_for(lambda: taps.guards(PROBE), "the console holding the taps again")
        tap(agent, key)
        thread.join(15)
        assert answer[0][:2] == (409, {"error": "not_an_open_check"})
        assert len(guards_records(agent)) == 1


def test_no_tap_in_time_is_no_tap_and_no_record(demo_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(server, "TAP_WAIT_S", 0.5)
    config, key = device(demo_dir, tmp_path)
    with Agent(config, console=True) as agent:
        address = address_of(config)
        check = visitor_check(agent)
        signed = signed_headers(address)
        assert request(address, "POST", "/api/actions", register_by_card(check["id"]),
                       signed)[:2] == (408, {"error": "no_tap"})
        assert not agent.controller.taps.guards(PROBE)         # the hold ended with the wait
        assert guards_records(agent) == []
        # A tap that came before the guard asked is not the visitor's.
        tap(agent, key)
        assert request(address, "POST", "/api/actions", register_by_card(check["id"]),
                       signed)[:2] == (408, {"error": "no_tap"})
        assert guards_records(agent) == []


def test_one_wait_at_a_time_and_a_page_that_leaves_lets_the_taps_go(demo_dir, tmp_path):
    config, key = device(demo_dir, tmp_path)
    assert server.TAP_WAIT_S >= 20        # far longer than any wait below
    with Agent(config, console=True) as agent:
        address = address_of(config)
        check = visitor_check(agent)
        signed = signed_headers(address)
        taps = agent.controller.taps
        for bad in ({"by_card": "yes"}, {"by_card": 1}):
            assert request(address, "POST", "/api/actions", register_by_card(check["id"], **bad),
                           signed)[:2] == (400, {"error": "bad_action"})
        override = json.dumps({"kind": "override", "of": check["id"], "allow": True,
                               "reason": "medical", "by_card": True}).encode()
        assert request(address, "POST", "/api/actions", override, signed)[:2] == \
            (400, {"error": "bad_action"})
        assert not taps.guards(PROBE)           # none of those waited for a tap
        for bad, code in (({"unit": "3/2 401"}, "bad_unit"), ({"reason": "party"}, "bad_reason")):
            assert request(address, "POST", "/api/actions", register_by_card(check["id"], **bad),
                           signed)[:2] == (409, {"error": code})    # before any tap is asked
        assert not taps.guards(PROBE)

        body = register_by_card(check["id"])
        leaving = socket.create_connection(address, timeout=10)
        head = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
        leaving.sendall(f"POST /api/actions HTTP/1.1\r\nHost: x\r\n{head}"
                        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        wait_for(lambda: taps.guards(PROBE), "the first page's wait")
        assert request(address, "POST", "/api/actions", body, signed)[:2] == \
            (409, {"error": "tap_busy"})
        leaving.close()             # the page is closed while the visitor looks for a card
        wait_for(lambda: not taps.guards(PROBE), "the hold to end with the page", timeout=10)

        thread, answer = in_background(lambda: request(address, "POST", "/api/actions",
                                                       body, signed))
        wait_for(lambda: taps.guards(PROBE), "the next registration's wait")
        tapped = tap(agent, key)
        thread.join(15)
        assert answer[0][0] == 200
        [record] = guards_records(agent)        # one record: the page that left made none
        assert record["card"] == tapped.token


def test_without_a_reader_a_registration_by_tap_is_refused(demo_dir, tmp_path):
    config, _ = device(demo_dir, tmp_path, reader=None)
    with Agent(config, console=True) as agent:
        address = address_of(config)
        assert agent.controller.taps is None
        check = visitor_check(agent)
        assert request(address, "POST", "/api/actions", register_by_card(check["id"]),
                       signed_headers(address))[:2] == (409, {"error": "no_reader"})
        assert guards_records(agent) == []


@pytest.fixture
def chromium():
    from bench.console import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: `make test` installs Debian's chromium as root")


def test_the_guard_registers_a_visitor_by_tap_on_the_page(demo_dir, tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    from tests.edge.test_console_page import open_page
    from tests.edge.test_console_page import sign_in as sign_in_on

    config, key = device(demo_dir, tmp_path)
    stop = threading.Event()
    with Agent(config, console=True) as agent, sync_playwright() as playwright:
        watcher = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        watcher.start()
        try:
            browser, page = open_page(playwright, config)
            sign_in_on(page)
            page.wait_for_selector("#verdict[data-decision='check']", timeout=30_000)
            assert page.inner_text("#reason") == "访客"
            assert page.inner_text("#register-card") == "刷卡登记"
            assert page.inner_text("#register-button") == "访客登记"   # typed, as before
            page.fill("#unit", "3-2-401")
            page.select_option("#visit-reason", "family")
            page.click("#register-card")
            page.wait_for_function("document.getElementById('act-status').textContent"
                                   " === '请访客刷身份证或门禁卡…'")
            assert page.is_disabled("#register-card")
            taps = agent.controller.taps
            wait_for(lambda: taps.guards(PROBE), "the console holding the taps")
            tapped = tap(agent, key)
            wait_for(lambda: guards_records(agent), "the guard's record")
            [record] = guards_records(agent)
            page.wait_for_selector("#verdict[data-decision='pass']")
            page.wait_for_function("id => (window.shownAt || {})[id]", arg=record["id"])
            assert page.inner_text("#act-status") == "" and page.inner_text("#act-error") == ""
            assert (record["operator"], record["subject"]) == ("g01", VISITOR)
            assert (record["card"], record["card_kind"]) == (tapped.token, "cnid")
            assert "unit=3-2-401 reason=family" in record["note"]
            page.click("#lang")
            page.wait_for_function("document.getElementById('word').textContent === 'PASS'")
            browser.close()
        finally:
            stop.set()
            watcher.join(10)
