"""The whole agent (`checkpoint run --simulate`) SIGKILLed at random moments, restarted.

Scans, decisions, commits and the uplink all run in the real agent process; the district
must end with exactly the records the device decided, whenever the kills fell.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from edge.store import Store
from tests.support.paths import REPO
from tests.support.waiting import wait_for

PEOPLE = ("green", "red", "green", "yellow", "green", "expired") * 2
SCENARIO = 'issuer_key = "demo/issuer-key.pem"\npresent_s = 0.5\ngap_s = 0.2\nloop = false\n'






def agent_config(demo_dir: Path, url: str) -> Path:
    people = "".join(f'[[person]]\npass = "{kind}"\ntemperature_c = 36.5\n' for kind in PEOPLE)
    (demo_dir / "kill-scenario.toml").write_text(SCENARIO + people)
    config = demo_dir / "kill.toml"
    config.write_text((demo_dir / "checkpoint.toml").read_text()
                      .replace("sim://demo-scenario.toml", "sim://kill-scenario.toml")
                      .replace("mqtt://127.0.0.1:1883", url))
    return config


def start_agent(config: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--config",
                             str(config), "--simulate", "--db", str(db)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def count(db: Path) -> int:
    if not db.exists():
        return 0
    with Store(db) as store:
        return store.count()


@pytest.mark.slow
def test_agent_killed_at_random_moments_and_restarted(demo_dir, tmp_path, broker):
    config, db = agent_config(demo_dir, broker.url), tmp_path / "cp.db"
    storage = DistrictStore(tmp_path / "district.db")
    receiver = Receiver(broker.url, storage)
    receiver.start()
    rng = random.Random(11)
    moments = [rng.uniform(1.0, 6.0) for _ in range(4)]
    agent = None
    try:
        for delay in moments:
            agent = start_agent(config, db)
            time.sleep(delay)               # wherever this falls: scan, commit, publish
            agent.send_signal(signal.SIGKILL)
            agent.wait(timeout=10)
        before = count(db)
        agent = start_agent(config, db)     # a full pass through the scene, then quiet
        wait_for(lambda: count(db) == before + len(PEOPLE), "the last run's decisions")
        with Store(db) as device:
            wait_for(lambda: device.backlog()[0] == 0, "the backlog delivered")
            decided = {r["id"] for r in device.records()}
            store_id = device.store_id
        agent.send_signal(signal.SIGINT)
        assert agent.wait(timeout=20) == 0
    finally:
        if agent and agent.poll() is None:
            agent.kill()
        receiver.stop()
    rows = list(storage.records())
    storage.close()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicated rows"
    assert set(ids) == decided, "lost or foreign rows"
    assert {r["store"] for r in rows} == {store_id}
    print(f"agent SIGKILLs={len(moments)} decided={len(decided)} district={len(rows)} "
          f"lost={len(decided - set(ids))} duplicated={len(ids) - len(set(ids))} "
          f"redelivered={storage.duplicates}")
