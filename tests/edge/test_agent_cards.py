"""Cards end to end, on real parts: the simulated people show their codes to the simulated
camera (decoded by the real decoder) and tap their cards on the simulated reader; the
agent decides, stores in a real SQLite file and delivers through a real Mosquitto to the
district's real receiver. A resident taps her own card (pass), another taps a card not
his (deny, card_mismatch), a third passes on her card alone (the district's policy says
require_pass = false), a visitor is registered by the guard with a tap of her ID card and
is then traced by that card's token. Only tokens travel: the raw numbers are in no
record, no log line, no MQTT payload and no database file."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import zlib
from dataclasses import replace

from cli.main import main
from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from edge import actions
from edge.agent import Agent
from edge.config import Section, load_config
from models.bundle import sign_bundle
from models.cards import card_token, parse_card
from models.keys import load_private_key
from models.timefmt import rfc3339
from tests.support.broker import raw_client
from tests.support.configs import with_mqtt
from tests.support.waiting import wait_for

ALICE, BOB, CAROL, VIC = "a1" * 16, "b2" * 16, "c3" * 16, "d4" * 16
CARDS = {"alice": "mifare:04A1B2C3D4E5F6", "bob": "mifare:04B0B0B0B0B0B0",
         "stranger": "mifare:04DEADBEEF0001", "carol": "mifare:04C0C0C0C0C0C0",
         "vic": "cnid:0123456789ABCDEF"}
SCENE = f"""
issuer_key = "demo/issuer-key.pem"
present_s = 2.5
gap_s = 2.0
approach_s = 0.5
loop = false
[[person]]
pass = "green"
subject = "{ALICE}"
card = "{CARDS['alice']}"
tap_s = 1.0
[[person]]
pass = "green"
subject = "{BOB}"
card = "{CARDS['stranger']}"
tap_s = 1.0
[[person]]
pass = "none"
card = "{CARDS['carol']}"
tap_s = 1.0
[[person]]
pass = "green"
subject = "{VIC}"
card = "{CARDS['vic']}"
tap_s = 12.0
"""


def token(key: bytes, name: str) -> str:
    return card_token(key, *parse_card(CARDS[name]))


def signed(folder, kind: str, fields: dict) -> bytes:
    root = load_private_key((folder / "demo" / "root-key.pem").read_bytes())
    now = time.time()
    payload = {"version": 2, "issued": rfc3339(now - 60), "next_update": rfc3339(now + 86400),
               **fields}
    return json.dumps(sign_bundle(kind, payload, root)).encode()


def device(demo_dir, tmp_path, broker_url):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    key = (own / "demo" / "card.key").read_bytes()
    (own / "cards-scene.toml").write_text(SCENE)
    (own / "demo" / "policy.json").write_bytes(signed(own, "policy", {
        "card": "residents", "require_pass": False, "visitors": "register",
        "require_synced_clock": False}))
    (own / "demo" / "roster.json").write_bytes(signed(own, "roster", {"subjects": [
        {"sub": ALICE, "unit": "3-201", "cards": [token(key, "alice")]},
        {"sub": BOB, "unit": "3-202", "cards": [token(key, "bob")]},
        {"sub": CAROL, "unit": "3-203", "cards": [token(key, "carol")]}]}))
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = replace(config,
                     camera=Section({**config.camera.values, "url": "sim://cards-scene.toml"}),
                     reader=Section({**config.reader.values, "url": "sim://"}),
                     trust=Section({**config.trust.values, "card_key": own / "demo" / "card.key"}))
    return with_mqtt(config, broker_url), key


class Registrar:
    """What the console does when a guard registers a visitor by tap: hold the reader's
    next tap for the guard (so it is not decided as a card alone), wait for it, submit."""

    def __init__(self, agent) -> None:
        self.agent, self.done = agent, threading.Event()
        self.result = None

    def __call__(self, record, name) -> None:     # a controller listener
        if record.reasons == ("visitor",) and not self.done.is_set() and record.operator is None:
            hold = self.agent.controller.taps.for_guard()
            hold.__enter__()        # at once, on the controller's thread: the tap is ours
            threading.Thread(target=self._register, args=(record, hold), daemon=True).start()

    def _register(self, check, hold) -> None:
        try:
            tap = self.agent.controller.taps.wait_new(self.agent.clock.monotonic(), 30.0)
        finally:
            hold.__exit__(None, None, None)
        action = actions.Registration("g01", check.id, unit="3-204", reason="family", card=tap)
        self.agent.controller.submit(action)
        self.result = action.result.result(10)
        self.done.set()


def forms_of(name: str) -> list[bytes]:
    """Every form a card's number could leak in: its bytes, its hex either case."""
    number = parse_card(CARDS[name])[1]
    return [number, number.hex().encode(), number.hex().upper().encode()]


def raw_numbers() -> list[bytes]:
    return [form for name in CARDS for form in forms_of(name)]


def payload_text(content_type, payload: bytes) -> bytes:
    return zlib.decompress(payload) if content_type and "zlib" in content_type else payload


def test_cards_at_the_gate_end_to_end_with_only_tokens_anywhere(demo_dir, tmp_path, broker,
                                                                caplog):
    caplog.set_level(logging.DEBUG)
    config, key = device(demo_dir, tmp_path, broker.url)
    district_db = tmp_path / "district.db"
    storage = DistrictStore(district_db)
    receiver = Receiver(broker.url, storage)
    receiver.start()
    seen: list = []
    observer = raw_client(broker, "cp/v1/#", seen)
    stop = threading.Event()
    try:
        with Agent(config) as agent:
            registrar = Registrar(agent)
            agent.controller.listeners.append(registrar)
            runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
            runner.start()
            try:
                assert registrar.done.wait(90), "the visitor was not registered by tap"
                wait_for(lambda: agent.store.backlog()[0] == 0 and agent.store.count() == 5,
                         "every record delivered", 60)
                rows = list(agent.store.records())
                assert agent.health()["reader"] == "ok"
            finally:
                stop.set()
                runner.join(5)
    finally:
        observer.loop_stop()
        receiver.stop()

    by = {(r["subject"], r["operator"]): r for r in rows}
    alice, bob, carol = by[(ALICE, None)], by[(BOB, None)], by[(CAROL, None)]
    visit, registered = by[(VIC, None)], by[(VIC, "g01")]
    assert (alice["decision"], alice["card"], alice["card_kind"]) == \
        ("pass", token(key, "alice"), "mifare")
    assert (bob["decision"], bob["reasons"], bob["card"]) == \
        ("deny", ["card_mismatch"], token(key, "stranger"))
    assert (carol["decision"], carol["pass_format"], carol["card"]) == \
        ("pass", None, token(key, "carol"))                 # the card alone
    assert (visit["decision"], visit["reasons"]) == ("check", ["visitor"])
    assert "card" not in visit          # no card: the record as the first release sent it
    assert (registered["decision"], registered["card"], registered["card_kind"]) == \
        ("pass", token(key, "vic"), "cnid")
    assert "unit=3-204" in registered["note"]

    district = tmp_path / "district.toml"
    district.write_text(f'[mqtt]\nurl = "{broker.url}"\n'
                        f'[store]\nurl = "sqlite:///{district_db}"\n')
    traced = trace(district, token(key, "vic"))             # the visitor, by her card
    assert {line["ts"] for line in traced} == {registered["ts"]}
    assert {line["contact"] for line in traced} == {ALICE, BOB, CAROL}  # not herself

    scene = (tmp_path / "device" / "cards-scene.toml").read_bytes()
    tapped = [name for name in CARDS if name != "bob"]     # Bob's own card stays home
    assert all(any(form in scene for form in forms_of(name)) for name in tapped)   # found
    written = dict(everything_written(tmp_path, seen, caplog))
    assert any(token(key, "vic").encode() in data for where, data in written.items()
               if "district.db" in where)                               # the district's file
    leaks = [(form, where) for form in raw_numbers()
             for where, data in everything_written(tmp_path, seen, caplog)
             if form in data]
    assert leaks == []


def trace(config, token_hex: str) -> list[dict]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["district", "trace", token_hex, "--purpose", "card trace test",
                     "--config", str(config)])
    assert code == 0, out.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def everything_written(tmp_path, seen, caplog):
    """(where, bytes) for every file under tmp_path (the databases and their WALs, the
    device's folder), every MQTT payload seen on the broker, and the log."""
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".pem", ".key", ".toml") \
                and path.name != "card.key":
            yield str(path), path.read_bytes()
    for topic, content_type, payload in seen:
        yield topic, payload_text(content_type, payload)
    yield "log", "\n".join(r.getMessage() for r in caplog.records).encode()
