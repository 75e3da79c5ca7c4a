"""The running agent takes a bundle the district pushes through a real Mosquitto, and
refuses a rollback, keeping the bundle in force."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from dataclasses import replace

from district.publish import publish_retained
from edge.agent import Agent
from edge.config import Section, load_config
from models.bundle import sign_bundle
from models.keys import load_private_key
from models.reasons import TEMPERATURE_MISSING
from models.timefmt import rfc3339
from tests.support.configs import with_mqtt
from tests.support.roster import roster_bundle
from tests.support.waiting import wait_for


def policy_bundle(folder, version: int, colors: list[str]) -> bytes:
    root = load_private_key((folder / "demo" / "root-key.pem").read_bytes())
    now = time.time()
    payload = {"version": version, "issued": rfc3339(now), "next_update": rfc3339(now + 86400),
               "allow_colors": colors, "require_synced_clock": False}
    return json.dumps(sign_bundle("policy", payload, root)).encode()


def test_pushed_policy_is_applied_and_persisted(demo_dir, tmp_path, broker, caplog):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = with_mqtt(config, broker.url)
    topic = f"cp/v1/{config.device.id}/config"
    publish_retained(broker.url, None, topic, policy_bundle(own, 5, ["green", "yellow"]))
    with Agent(config) as agent:
        wait_for(lambda: agent.controller.trust.policy_version == 5, "policy 5 in force")
        assert agent.controller.trust.policy.allow_colors == ("green", "yellow")
        # Each topic keeps only its latest message: 6 goes once 4 has been judged.
        publish_retained(broker.url, None, topic, policy_bundle(own, 4, ["green"]))
        wait_for(lambda: agent.bundles.refused == 1, "version 4 refused")
        publish_retained(broker.url, None, topic, policy_bundle(own, 6, ["green"]))
        wait_for(lambda: agent.controller.trust.policy_version == 6, "policy 6 in force")
    refusals = [r.getMessage() for r in caplog.records if "bundle_refused" in r.getMessage()]
    assert len(refusals) == 1 and "version 4" in refusals[0] and "rollback" in refusals[0]
    on_disk = json.loads((own / "demo" / "policy.json").read_text())
    assert json.loads(base64.b64decode(on_disk["payload"]))["version"] == 6


ROSTER_SCENE = """
issuer_key = "demo/issuer-key.pem"
present_s = 1.0
gap_s = 0.6
approach_s = 0.3
loop = true
[[person]]
pass = "green"
temperature_c = 36.5
subject = "{resident}"
[[person]]
pass = "green"
temperature_c = 36.6
subject = "{visitor}"
"""


def test_a_pushed_roster_makes_everyone_else_a_visitor(demo_dir, tmp_path, broker):
    resident, visitor = "a1" * 16, "b2" * 16
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "roster-scene.toml").write_text(ROSTER_SCENE.format(resident=resident,
                                                               visitor=visitor))
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    config = with_mqtt(replace(config, camera=Section({**config.camera.values,
                                                       "url": "sim://roster-scene.toml"})),
                       broker.url)
    decided: dict = {}
    on_roster = threading.Event()

    def outcome(result) -> None:
        # A loaded machine can miss a person's thermal window (a check for a missing
        # temperature, which tests/edge/test_thermal.py covers): the roster is judged on
        # people who were measured.
        measured = TEMPERATURE_MISSING not in result.record.reasons
        if on_roster.is_set() and measured:
            decided.setdefault(result.record.subject, result.record)

    publish_retained(broker.url, None, f"cp/v1/{config.device.id}/config",
                     roster_bundle(own, 1, [resident]))
    with Agent(config, on_outcome=outcome) as agent:
        wait_for(lambda: agent.controller.trust.roster_version == 1, "roster 1 in force")
        # the first person came while the sensor warmed up: count from the next one on
        wait_for(lambda: agent.store.count() >= 1, "a first decision")
        on_roster.set()
        wait_for(lambda: {resident, visitor} <= set(decided), "both people decided")
    assert (decided[resident].decision, decided[resident].reasons) == ("pass", ())
    assert (decided[visitor].decision, decided[visitor].reasons) == ("check", ("visitor",))
    assert (own / "demo" / "roster.json").exists()      # the next start has it too
