"""`checkpoint doctor` through the real command line: on simulated drivers, a real
Mosquitto and a store the district has acknowledged it passes; each broken part is named
with its fix: a missing broker, a wrong serial port, a wrong baud, a stale trust list,
a full disk."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid

import pytest

from drivers.sim.thermal import ThermalSimulator
from edge.store import Store
from models.bundle import sign_bundle
from models.keys import load_private_key
from models.timefmt import rfc3339
from tests.support.broker import free_port
from tests.support.paths import CHECKPOINT, REPO
from tests.support.records import record
from tests.support.small_disk import fill, small_disk  # noqa: F401 - a fixture

NAMES = ["config", "camera", "decoder", "sensor", "gate", "reader", "broker", "ack", "clock",
         "disk", "database", "trust", "permissions"]


def write_config(demo_dir, tmp_path, *, mqtt: str, thermal: str = "sim://",
                 store=None, trustlist: str = "demo/trustlist.json"):
    """A config beside the demo district (its relative paths are the demo's)."""
    path = demo_dir / f"doctor-{uuid.uuid4().hex[:8]}.toml"
    path.write_text(f"""
[device]
id = "doctor-0001"
gate = "east-1"
[camera]
url = "sim://demo-scenario.toml"
[thermal]
url = "{thermal}"
[gate]
url = "sim://"
[store]
path = "{store or tmp_path / 'cp.db'}"
[trust]
roots = ["demo/root-pub.pem"]
trustlist = "{trustlist}"
revocations = "demo/revocations.json"
policy = "demo/policy.json"
[mqtt]
url = "{mqtt}"
""")
    return path


def doctor(config, *extra: str) -> tuple[int, dict]:
    done = subprocess.run([*CHECKPOINT, "doctor", "--config", str(config), "--json", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.stderr == ""
    return done.returncode, json.loads(done.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def acked_store(path) -> None:
    with Store(path) as store:
        seq = store.commit(record(1, ts="2026-03-01T08:00:00.000Z"))
        store.commit(record(2))
        store.mark_synced(seq, seq)


def test_doctor_passes_on_simulated_drivers(demo_dir, tmp_path, broker):
    acked_store(tmp_path / "cp.db")
    config = write_config(demo_dir, tmp_path, mqtt=broker.url)
    code, report = doctor(config, "--gate")
    checks = by_name(report)
    assert [check["name"] for check in report["checks"]] == NAMES
    assert code == 0 and report["ok"] is True, report
    assert all(check["status"] in ("ok", "warn") for check in report["checks"])
    # the clock depends on this machine; everything else is ok here
    assert [n for n, c in checks.items() if c["status"] != "ok"] in ([], ["clock"])
    assert checks["camera"]["detail"].startswith("640x480 at ")
    assert checks["sensor"]["detail"].startswith("simulated gy-mcu90614 at 9600 baud, ")
    assert "opened for 0.3 s and closed again" in checks["gate"]["detail"]
    assert checks["broker"]["detail"] == f"connected to 127.0.0.1:{broker.port} without TLS"
    assert checks["ack"]["detail"].startswith(
        "1 records acknowledged, the newest from 2026-03-01T08:00:00.000Z; 1 waiting")
    assert checks["database"]["detail"].endswith("integrity ok, 2 records")
    assert all(c["hint"] is None for c in report["checks"] if c["status"] == "ok")


def test_text_output_is_one_line_per_check_with_the_fix(demo_dir, tmp_path):
    config = write_config(demo_dir, tmp_path, mqtt=f"mqtt://127.0.0.1:{free_port()}")
    done = subprocess.run([*CHECKPOINT, "doctor", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert [line.split()[1] for line in lines] == NAMES
    broker_line = lines[NAMES.index("broker")]
    assert broker_line.startswith("fail broker      127.0.0.1:")
    assert broker_line.endswith(": connection refused -- fix: start the broker, or fix "
                                "[mqtt] url's host and port")
    assert lines[0].startswith("ok   config ") and " -- fix: " not in lines[0]


def test_a_missing_broker_is_named_with_its_fix(demo_dir, tmp_path):
    port = free_port()
    code, report = doctor(write_config(demo_dir, tmp_path, mqtt=f"mqtt://127.0.0.1:{port}"))
    broker = by_name(report)["broker"]
    assert code == 1 and report["ok"] is False
    assert broker == {"name": "broker", "status": "fail",
                      "detail": f"127.0.0.1:{port}: connection refused",
                      "hint": "start the broker, or fix [mqtt] url's host and port"}
    failed = [c["name"] for c in report["checks"] if c["status"] == "fail"]
    assert failed == ["broker"]


def test_a_wrong_serial_port_is_named_with_its_fix(demo_dir, tmp_path, broker):
    config = write_config(demo_dir, tmp_path, mqtt=broker.url,
                          thermal="serial:///dev/ttyNOPE7?protocol=gy-mcu90614")
    code, report = doctor(config)
    sensor = by_name(report)["sensor"]
    assert code == 1
    assert sensor["status"] == "fail"
    assert sensor["detail"].startswith("cannot open serial port /dev/ttyNOPE7: ")
    assert "set [thermal] url to the sensor's port" in sensor["hint"]
    assert "dialout group" in sensor["hint"]
    # the config check only warns: the port may be plugged in later
    assert by_name(report)["config"]["status"] == "warn"


def test_a_wrong_baud_is_named_with_the_baud_that_answers(demo_dir, tmp_path, broker):
    with ThermalSimulator(baud=115200, autostart=False) as simulator:
        config = write_config(demo_dir, tmp_path, mqtt=broker.url,
                              thermal=f"serial://{simulator.port}?protocol=gy-mcu90614&baud=9600")
        code, report = doctor(config)
    sensor = by_name(report)["sensor"]
    assert code == 1
    assert sensor["status"] == "fail"
    assert sensor["detail"].startswith("gy-mcu90615 at 115200 baud, ")
    assert sensor["detail"].endswith(f"on {simulator.port}, not at the configured baud=9600")
    assert sensor["hint"] == "set baud=115200 (or baud=auto) in [thermal] url"


def test_a_stale_trust_list_is_named_with_its_fix(demo_dir, tmp_path, broker):
    envelope = json.loads((demo_dir / "demo" / "trustlist.json").read_text())
    payload = json.loads(base64.b64decode(envelope["payload"]))
    now = time.time()
    payload.update(version=2, issued=rfc3339(now - 10 * 86400),
                   next_update=rfc3339(now - 3 * 86400))
    root = load_private_key((demo_dir / "demo" / "root-key.pem").read_bytes())
    stale = tmp_path / "stale-trustlist.json"
    stale.write_text(json.dumps(sign_bundle("trustlist", payload, root)))
    code, report = doctor(write_config(demo_dir, tmp_path, mqtt=broker.url,
                                       trustlist=str(stale)))
    trust = by_name(report)["trust"]
    assert code == 1
    assert trust["status"] == "fail"
    assert trust["detail"].startswith(f"stale: trustlist next_update {payload['next_update']}, "
                                      "3 days ago")
    assert "the district pushes fresh bundles" in trust["hint"]


def test_a_full_disk_is_named_with_its_fix(demo_dir, tmp_path, broker, small_disk):  # noqa: F811
    db = small_disk / "cp.db"
    acked_store(db)
    fill(small_disk)
    code, report = doctor(write_config(demo_dir, tmp_path, mqtt=broker.url, store=db))
    checks = by_name(report)
    assert code == 1
    assert checks["disk"]["status"] == "fail"
    assert checks["disk"]["detail"].startswith("0.0 MiB free of 2 MiB (0%) on ")
    assert checks["disk"]["detail"].endswith(": nearly full")
    assert checks["disk"]["hint"].startswith(f"free space on {small_disk}")
    # a full disk does not keep doctor from reading the store
    assert checks["database"]["status"] == "ok", checks["database"]
    assert checks["ack"]["status"] == "ok"


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_a_readable_secret_is_named_with_chmod(demo_dir, tmp_path, broker, mode):
    config = write_config(demo_dir, tmp_path, mqtt=broker.url)
    key = tmp_path / "subject.key"
    key.write_bytes((demo_dir / "demo" / "subject.key").read_bytes())
    key.chmod(mode)
    config.write_text(config.read_text().replace(
        'policy = "demo/policy.json"', f'policy = "demo/policy.json"\nsubject_key = "{key}"'))
    code, report = doctor(config)
    permissions = by_name(report)["permissions"]
    assert code == 1
    who = "group" if mode == 0o640 else "others"
    assert permissions["detail"] == f"{key} is readable by {who} (mode {mode:04o})"
    assert permissions["hint"] == f"chmod 600 {key}; chown checkpoint {key}"


def test_an_unreadable_config_is_the_config_line(tmp_path):
    code, report = doctor(tmp_path / "missing.toml")
    assert code == 1
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"]] == ["config"]
    assert "cannot read" in report["checks"][0]["detail"]
