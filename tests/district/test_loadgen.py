"""The load generator (district/loadgen.py) on a real Mosquitto: its gates' records reach a
real receiver exactly once, a gate resends until the district acks, a forged ack ends no
loop; and the soak script kills a broker and a receiver worker mid-run and still finds
every record once at a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from district.loadgen import LoadGen, Plan
from district.receiver import Receiver
from district.stores import open_store
from tests.support.broker import publisher
from tests.support.paths import REPO
from tests.support.waiting import wait_for


@pytest.fixture
def district(broker, tmp_path):
    storage = open_store(f"sqlite:///{tmp_path / 'district.db'}")
    receiver = Receiver([broker.url], storage)
    receiver.start()
    wait_for(lambda: receiver.connected, "the receiver to subscribe", timeout=10.0)
    yield storage
    receiver.stop()
    storage.close()


def held(storage) -> list[tuple[str, str, int]]:
    return [(r["device"], r["store"], r["seq"]) for r in storage.records()]


def made(generator: LoadGen) -> set[tuple[str, str, int]]:
    return {(d.device, d.store, seq) for d in generator.devices for seq in range(1, d.seq + 1)}


def test_every_record_of_every_gate_is_at_the_district_once(broker, district):
    generator = LoadGen([broker.url], Plan(devices=30, rate=300, seconds=2, drain_s=30))
    summary = generator.run()
    rows = held(district)
    assert summary["records"] == summary["acked"] >= 500
    assert summary["unacked"] == 0 and summary["rejected"] == {}
    assert len(rows) == len(set(rows)) and set(rows) == made(generator)
    assert len({device for device, _, _ in rows}) == 30
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]


def test_without_a_district_nothing_is_acked_and_batches_are_resent(broker):
    plan = Plan(devices=3, rate=30, seconds=1, ack_timeout_s=0.2, drain_s=1.5)
    summary = LoadGen([broker.url], plan).run()
    assert summary["acked"] == 0 and summary["unacked"] == summary["records"] > 0
    assert summary["resent"] >= summary["batches"] + 3    # each unacked batch went again
    assert summary["p99_ms"] is None


def test_a_forged_ack_is_counted_and_the_run_goes_on(broker, district):
    generator = LoadGen([broker.url], Plan(devices=2, rate=40, seconds=2, drain_s=30))
    forger = publisher(broker)
    stop = threading.Event()

    def forge() -> None:
        wait_for(lambda: generator.phase == "load", "the load to start", timeout=30.0)
        for payload in (b"\xff" * 10, b"[1,2]", b'{"schema":"checkpoint.ack/1"}',
                        b"{" * 5000):
            forger.publish("cp/v1/load-00001/ack", payload, qos=1).wait_for_publish(5)
        stop.set()

    thread = threading.Thread(target=forge)
    thread.start()
    summary = generator.run()
    thread.join()
    forger.disconnect()
    assert stop.is_set()
    assert summary["acks_malformed"] == 4 and summary["loop_errors"] == 0
    assert summary["unacked"] == 0 and set(held(district)) == made(generator)


def test_soak_kills_a_broker_and_a_worker_and_keeps_every_record_once():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "soak_district.py"), "--devices", "60",
         "--rate", "120", "--seconds", "8", "--ack-timeout", "2", "--drain", "60"],
        capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert [kill["killed"] for kill in result["kills"]] == ["broker_a", "worker_1"]
    assert result["workers_restarted"] >= 1
    assert result["exactly_once"] and result["missing"] == result["doubled"] == 0
    assert result["district_rows"] == result["records"] == result["acked"] >= 800
    assert result["p99_ms"] >= result["p99_ms_before_kills"] > 0
