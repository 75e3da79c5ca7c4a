"""The running agent takes a bundle the district pushes through a real Mosquitto, and
refuses a rollback, keeping the bundle in force."""

from __future__ import annotations

import base64
import json
import shutil
import time

from district.publish import publish_retained
from edge.agent import Agent
from edge.config import load_config
from models.bundle import sign_bundle
from models.keys import load_private_key
from models.timefmt import rfc3339
from tests.support.configs import with_mqtt
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
