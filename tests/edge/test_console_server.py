"""The console's web server as the hostile channel it is: the real agent serving on a free
loopback port, requests sent over real sockets. Every bad request gets a stable error code,
an action needs the session cookie and its CSRF token, wrong PINs lock the id, and after all
of it the server still serves the page. Every code the page may be sent has words in both
languages."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from edge import actions
from edge.agent import Agent
from edge.config import Section, load_config
from edge.guards import hash_pin
from models import reasons as R
from tests.support.broker import free_port

REPO = Path(__file__).resolve().parents[2]
CONSOLE = REPO / "edge" / "console"


@pytest.fixture
def console(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "guards").write_text(f"g01 {hash_pin('246810')}\ng02 {hash_pin('135790')}\n")
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = replace(config, console=Section({**config.console.values, "guards": own / "guards",
                                              "listen": f"127.0.0.1:{free_port()}"}))
    with Agent(config, console=True) as agent:
        host, port = config.console.listen.rsplit(":", 1)
        yield agent, host, int(port)


def request(address, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None, chunked: bool = False,
            ) -> tuple[int, dict, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection(*address, timeout=10)
    connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return response.status, json.loads(data) if is_json else {}, response


def sign_in(address, guard="g01", pin="246810") -> tuple[int, dict, str]:
    status, answer, response = request(address, "POST", "/api/session",
                                       json.dumps({"guard": guard, "pin": pin}).encode(),
                                       {"Content-Type": "application/json"})
    cookie = (response.headers.get("set-cookie") or "").split(";")[0]
    return status, answer, cookie


def test_an_action_needs_the_session_and_its_csrf_token(console):
    agent, *address = console
    body = json.dumps({"kind": "override", "of": "x", "allow": True,
                       "reason": "medical"}).encode()
    assert request(address, "POST", "/api/actions", body)[:2] == \
        (403, {"error": "not_signed_in"})
    status, answer, cookie = sign_in(address)
    assert status == 200 and answer["guard"] == "g01" and cookie.startswith("cp_session=")
    _, _, response = request(address, "POST", "/api/session",
                             json.dumps({"guard": "g01", "pin": "246810"}).encode())
    flags = response.headers["set-cookie"].lower()
    assert "httponly" in flags and "samesite=strict" in flags
    # The cookie alone is what a cross-site form would carry: refused without the token.
    assert request(address, "POST", "/api/actions", body, {"Cookie": cookie})[:2] == \
        (403, {"error": "not_signed_in"})
    assert request(address, "POST", "/api/actions", body,
                   {"Cookie": cookie, "X-CSRF-Token": "guessed"})[:2] == \
        (403, {"error": "not_signed_in"})
    status, answer, _ = request(address, "POST", "/api/actions", body,
                                {"Cookie": cookie, "X-CSRF-Token": sign_in(address)[1]["csrf"]})
    assert (status, answer) == (403, {"error": "not_signed_in"})     # another session's token
    assert not [r for r in agent.store.records() if r["operator"]]     # nothing was recorded


def test_signing_out_ends_the_session(console):
    _, *address = console
    _, answer, cookie = sign_in(address)
    signed = {"Cookie": cookie, "X-CSRF-Token": answer["csrf"]}
    body = json.dumps({"kind": "override", "of": "x", "allow": True,
                       "reason": "medical"}).encode()
    assert request(address, "POST", "/api/actions", body, signed)[0] == 409   # signed in
    assert request(address, "DELETE", "/api/session", None, {"Cookie": cookie})[0] == 200
    assert request(address, "POST", "/api/actions", body, signed)[:2] == \
        (403, {"error": "not_signed_in"})


def test_bad_requests_get_a_code_each_and_the_server_goes_on(console):
    agent, *address = console
    _, answer, cookie = sign_in(address)
    signed = {"Cookie": cookie, "X-CSRF-Token": answer["csrf"],
              "Content-Type": "application/json"}
    bad = [
        (b"x" * 5000, 413, "too_large"),
        (b"{\"kind\": ", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_json"),
        (b"\xff\xfe{}", 400, "bad_json"),
        (json.dumps({"kind": "override"}).encode(), 400, "bad_action"),
        (json.dumps({"kind": "launch", "of": "x"}).encode(), 400, "bad_action"),
        (json.dumps({"kind": "override", "of": "x", "allow": True,
                     "reason": "medical"}).encode(), 409, "unknown_decision"),
        (json.dumps({"kind": "register", "of": "x", "unit": "1", "reason": "family"}).encode(),
         409, "unknown_decision"),
    ]
    for body, status, code in bad:
        got_status, got, _ = request(address, "POST", "/api/actions", body, signed)
        assert (got_status, got.get("error")) == (status, code), body[:40]
    nested = b"{\"kind\": " + b"[" * 50 + b"]" * 50 + b"}"
    assert request(address, "POST", "/api/actions", nested, signed)[:2] == \
        (400, {"error": "bad_json", "detail": "too_deep"})
    # A body longer than it says, and one sent in chunks with no length at all.
    status, answer, _ = request(address, "POST", "/api/actions", b"{}" * 3000,
                                {**signed, "Content-Length": "10"})
    assert status in (400, 413)
    chunks = (b"{}" for _ in range(3000))
    assert request(address, "POST", "/api/actions", chunks, {**signed, "Transfer-Encoding":
                   "chunked"}, chunked=True)[:2] == (413, {"error": "too_large"})
    with socket.create_connection(address, timeout=10) as raw:   # not HTTP at all
        raw.sendall(b"\x00\x01garbage\r\n\r\n" * 100)
        raw.recv(1024)
    assert request(address, "GET", "/")[0] == 200
    assert "console" not in agent.supervisor.dead()
    assert not [r for r in agent.store.records() if r["operator"]]     # no guard's record


def test_wrong_pins_lock_the_id_over_http(console):
    _, *address = console
    for _ in range(2):
        assert sign_in(address, pin="000000")[:2] == (401, {"error": "wrong", "retry_in_s": 0.0})
    assert sign_in(address, pin="000000")[:2] == (401, {"error": "wrong", "retry_in_s": 30.0})
    status, answer, cookie = sign_in(address)      # the right PIN, too soon after
    assert (status, answer["error"], cookie) == (401, "locked", "")
    assert 0 < answer["retry_in_s"] <= 30
    assert sign_in(address, "g02", "135790")[0] == 200      # another guard is not locked
    # An id nobody has is refused as a wrong PIN is: the answer tells no ids apart.
    assert sign_in(address, "g99", "246810")[:2] == (401, {"error": "wrong", "retry_in_s": 0.0})


def test_unknown_languages_and_paths_are_refused(console):
    _, *address = console
    assert request(address, "GET", "/i18n/fr.json")[:2] == (404, {"error": "unknown_language"})
    assert request(address, "GET", "/i18n/..%2Fserver.py.json")[0] == 404
    assert request(address, "GET", "/static/../server.py")[0] == 404


def words(lang: str) -> dict:
    return json.loads((CONSOLE / "i18n" / f"{lang}.json").read_text())


def sent_codes() -> set[str]:
    """The error codes the server and the guard actions can send to the page."""
    server = (CONSOLE / "server.py").read_text()
    codes = set(re.findall(r'error\(\d{3}, "(\w+)"', server))
    codes |= set(re.findall(r'"error": "(\w+)"', server))
    for module in ("actions.py", "controller.py"):     # the controller refuses a used tap
        source = (REPO / "edge" / module).read_text()
        codes |= set(re.findall(r'ActionError\("(\w+)"', source))
    codes |= set(re.findall(r'SignInRefused\("(\w+)"',
                            (REPO / "edge" / "guards.py").read_text()))
    return codes


def test_both_languages_say_every_code_the_page_is_sent():
    zh, en = words("zh-CN"), words("en")
    assert set(zh) == set(en)
    assert set(zh["override_reasons"]) == set(en["override_reasons"]) == \
        set(actions.OVERRIDE_REASONS)
    assert set(zh["visit_reasons"]) == set(en["visit_reasons"]) == set(actions.VISIT_REASONS)
    needed = {f"reason_{r}" for r in R.REASONS} | {f"decision_{d}" for d in R.DECISIONS}
    needed |= {f"state_{s}" for s in ("ok", "starting", "fault", "offline", "behind",
                                      "stale", "unsynced")}
    needed |= {f"part_{p}" for p in ("camera", "thermal", "gate", "broker", "backlog",
                                     "trust", "clock")}
    codes = sent_codes()
    assert {"too_large", "not_signed_in", "wrong", "locked", "bad_reason"} <= codes
    assert {"no_reader", "no_tap", "tap_busy", "card_used"} <= codes    # registration by tap
    needed |= {f"error_{code}" for code in codes if code not in ("preview_off",
                                                                   "unknown_language")}
    assert needed - set(zh) == set()
    for lang in (zh, en):
        assert all(isinstance(v, str | dict) and v for v in lang.values())


def test_no_words_in_the_page_itself():
    """Every word the guard reads comes from the translation files."""
    page = (CONSOLE / "static" / "index.html").read_text()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S))
    assert text.split() == ["Checkpoint"]      # the <title>, a name
