"""`checkpoint district add-device`: a device's certificate signed by the district's CA,
its entry added to the broker's dynamic-security file beside the others, and a bundle
that `checkpoint provision` turns into a config; the strongest check is a real Mosquitto
running the production TLS config with that file, which lets the provisioned device
publish on its own topics and nowhere else."""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path

import pytest

from models.wire import Topics
from tests.cli.test_provision import DEMO, HARDWARE, checkpoint
from tests.support.tls import Client, TlsBroker, identity, make_ca

DEVICE, OTHER, LIVE = "gate-9", "gate-1", "gate-5"
NOT_AUTHORIZED = 0x87
TOPICS = Topics()


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> Path:
    return make_ca(tmp_path_factory.mktemp("ca"), OTHER)


def add(ca: Path, out: Path, device: str = DEVICE, *extra: str,
        broker: str = "mqtts://127.0.0.1:8883"):
    return checkpoint("district", "add-device", device, "--ca-dir", str(ca), "--out",
                      str(out), "--broker", broker, "--root-key", str(DEMO / "root-pub.pem"),
                      "--trustlist", str(DEMO / "trustlist.json"), *extra)


def test_the_bundle_holds_a_certificate_for_the_device_signed_by_the_ca(ca, tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    done = add(ca, tmp_path / "bundle")
    assert done.returncode == 0, done.stderr
    bundle = tmp_path / "bundle"
    names = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    assert names == ["PROVISION.txt", "root.pem", "tls/ca.pem", "tls/device.key",
                     "tls/device.pem", "trustlist.json"]
    cert = x509.load_pem_x509_certificate((bundle / "tls" / "device.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(issuer)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DEVICE
    assert (bundle / "tls" / "device.key").stat().st_mode & 0o777 == 0o600
    assert (ca / f"{DEVICE}.pem").read_bytes() == (bundle / "tls" / "device.pem").read_bytes()
    assert not (ca / f"{DEVICE}-key.pem").exists()      # the key goes to the gate only
    assert "checkpoint provision --device-id gate-9" in (bundle / "PROVISION.txt").read_text()


def test_a_second_certificate_needs_force(ca, tmp_path):
    assert add(ca, tmp_path / "one", "gate-2").returncode == 0
    again = add(ca, tmp_path / "two", "gate-2")
    assert again.returncode == 2 and "--force" in again.stderr
    assert not (tmp_path / "two").exists()
    assert add(ca, tmp_path / "two", "gate-2", "--force").returncode == 0


@pytest.mark.parametrize(("device", "error"), [("gate 9", "allowed: letters"),
                                              ("district-2", "the district's own names")])
def test_a_bad_device_id_writes_nothing(ca, tmp_path, device, error):
    (tmp_path / "dynsec.json").write_text("{}")
    done = add(ca, tmp_path / "bundle", device, "--dynsec", str(tmp_path / "dynsec.json"))
    assert done.returncode == 2 and error in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynsec.json"]
    assert not (ca / f"{device}.pem").exists()


def test_the_device_joins_the_dynsec_file_and_nobody_else_is_lost(ca, tmp_path):
    rules = tmp_path / "dynsec.json"
    acl = checkpoint("district", "broker-acl", OTHER, "--admin", "ops")
    rules.write_text(acl.stdout)
    before = json.loads(acl.stdout)
    assert add(ca, tmp_path / "bundle", "gate-3", "--dynsec", str(rules)).returncode == 0
    after = json.loads(rules.read_text())
    assert [c["username"] for c in after["clients"]] == \
        [*(c["username"] for c in before["clients"]), "gate-3"]
    assert after["roles"][:-1] == before["roles"]
    expected = json.loads(checkpoint("district", "broker-acl", "gate-3").stdout)["roles"][0]
    assert after["roles"][-1] == expected


def test_a_provisioned_gate_publishes_through_the_production_broker(ca, tmp_path):
    """add-device into the broker's dynsec file, provision from the printed line, then
    the config's own TLS files connect to production.conf and may publish only on the
    device's topics."""
    broker = TlsBroker(tmp_path, ca, devices=[OTHER])
    done = add(ca, tmp_path / "bundle", LIVE, "--dynsec", str(tmp_path / "dynsec.json"),
               "--gate", "west-2", broker=broker.url)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "checkpoint provision" in line)
    words = shlex.split(line)
    words = words[words.index("provision") + 1:]
    etc = tmp_path / "etc"
    provisioned = checkpoint("provision", "--out", str(etc), *words, "--sensor-port",
                             "/dev/ttyUSB0", "--sensor-protocol", "gy-mcu90614", *HARDWARE,
                             cwd=tmp_path / "bundle")
    assert provisioned.returncode == 0, provisioned.stderr
    checked = checkpoint("config", "check", "--config", str(etc / "checkpoint.toml"))
    assert checked.returncode == 0, checked.stderr
    mqtt = tomllib.loads((etc / "checkpoint.toml").read_text())["mqtt"]
    assert mqtt["url"] == broker.url
    broker.start()
    device = receiver = None
    try:
        receiver = Client(broker, identity(ca, "district"))
        assert receiver.subscribe(TOPICS.all_status()) == [1]
        device = Client(broker, {name: etc / mqtt[name] for name in ("ca", "cert", "key")})
        assert device.publish(TOPICS.status(LIVE), b"{}") == 0
        receiver.wait(lambda: (TOPICS.status(LIVE), b"{}", False) in receiver.messages)
        assert device.publish(TOPICS.records(OTHER), b"{}") == NOT_AUTHORIZED
        assert device.subscribe(TOPICS.ack(LIVE), TOPICS.ack(OTHER)) == [1, NOT_AUTHORIZED]
    finally:
        for client in (device, receiver):
            if client:
                client.close()
        broker.stop()
