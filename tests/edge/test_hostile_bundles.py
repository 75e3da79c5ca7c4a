"""Issue fault 1 on the real processes: what anyone on the broker publishes on a bundle topic
(10^5-deep JSON, a root-signed trust list holding a key on an unsupported curve, a flood of
junk) stops no decision, kills no thread, and each retained refusal is logged once, not on
every reconnect. On the main before this change, the deep message killed the controller.
Also `checkpoint verify --trust` on that trust list: one line, no traceback."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import time

from edge.agent import Agent
from edge.config import load_config
from models.bundle import sign_bundle
from models.keys import load_private_key
from models.timefmt import rfc3339
from tests.support.broker import publisher
from tests.support.configs import with_mqtt
from tests.support.independent_cp1 import unsupported_curve_spki
from tests.support.paths import REPO
from tests.support.waiting import wait_for

SCENARIO = """
issuer_key = "demo/issuer-key.pem"
present_s = 0.6
gap_s = 0.3
approach_s = 0.2
loop = true
[[person]]
pass = "green"
temperature_c = 36.5
"""
DEEP = b"[" * 100_000 + b"]" * 100_000


def publish(client, topic: str, payload: bytes, retain: bool = False) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)


def bad_curve_trustlist(own) -> bytes:
    root = load_private_key((own / "demo" / "root-key.pem").read_bytes())
    now = time.time()
    payload = {"version": 99, "issued": rfc3339(now - 60), "next_update": rfc3339(now + 86400),
               "keys": [{"iss": "CN-BJ-110105", "spki": unsupported_curve_spki()}]}
    return json.dumps(sign_bundle("trustlist", payload, root)).encode()


class Decisions:
    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self, outcome) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def more_than(self, n: int) -> bool:
        return self.count > n


def hostile_config(demo_dir, tmp_path, broker):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "hostile.toml").write_text(SCENARIO)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = with_mqtt(config, broker.url)
    camera = {**config.camera.values, "url": "sim://hostile.toml"}
    from dataclasses import replace

    from edge.config import Section
    return own, replace(config, camera=Section(camera))


def refusals(caplog, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if "bundle_refused" in r.getMessage() and needle in r.getMessage()]


def test_hostile_bundles_stop_no_decision_and_are_logged_once(demo_dir, tmp_path, broker,
                                                               caplog):
    own, config = hostile_config(demo_dir, tmp_path, broker)
    decisions = Decisions()
    device = config.device.id
    caplog.set_level(logging.INFO, logger="checkpoint")
    with Agent(config, on_outcome=decisions) as agent:
        wait_for(lambda: agent.sync.connected and decisions.count >= 1, "a first decision")
        version = agent.controller.trust.trustlist_version
        client = publisher(broker)
        bad_curve = bad_curve_trustlist(own)
        publish(client, "cp/v1/district/trustlist", DEEP, retain=True)
        publish(client, "cp/v1/district/revocations", bad_curve, retain=True)
        for n in range(2000):               # a flood on the device's own config topic
            client.publish(f"cp/v1/{device}/config", b'{"schema": %d}' % n, qos=0)
        publish(client, f"cp/v1/{device}/config", b"[" * 5000, retain=True)
        wait_for(lambda: len(refusals(caplog, "too_deep")) >= 1, "the deep trust list refused")
        wait_for(lambda: refusals(caplog, "1.2.3.4 is not supported"), "the bad curve refused")
        seen = decisions.count
        wait_for(lambda: decisions.more_than(seen + 2), "decisions after the hostile bundles")

        # A reconnect delivers the retained messages again: judged again, not logged again.
        refused = agent.bundles.refused
        broker.restart()
        client.loop_stop()
        client = publisher(broker)          # the retained messages, there for sure
        publish(client, "cp/v1/district/trustlist", DEEP, retain=True)
        publish(client, "cp/v1/district/revocations", bad_curve, retain=True)
        wait_for(lambda: agent.sync.connected and agent.bundles.refused >= refused + 2,
                 "the retained bundles judged again after the reconnect")
        seen = decisions.count
        wait_for(lambda: decisions.more_than(seen + 2), "decisions after the reconnect")
        health = agent.health()
        client.loop_stop()
    assert len(refusals(caplog, "district/trustlist")) == 1 and \
        "too_deep" in refusals(caplog, "district/trustlist")[0]
    # 2001 distinct junk messages on the config topic: logged 1st, 2nd, 4th... 1024th
    assert len(refusals(caplog, "topic=cp/v1/demo-0001/config")) <= 12
    assert len(refusals(caplog, "1.2.3.4 is not supported")) == 1
    assert set(health["workers"].values()) == {"running"}
    assert health["counters"]["scans_dropped"] == 0 and health["counters"]["scans_failed"] == 0
    assert health["trustlist_version"] == version      # the trust in force stayed


def test_verify_names_a_trust_list_key_on_an_unsupported_curve(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "bad.json").write_bytes(bad_curve_trustlist(own))
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "verify", "--trust", str(own / "bad.json"),
         "--root", str(own / "demo" / "root-pub.pem"), "CP1:X"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "spki is not a DER public key" in result.stderr
    assert "1.2.3.4 is not supported" in result.stderr
