"""`checkpoint district publish`: signed bundles pushed retained through the production
broker config, and a device that subscribes later still receives them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from models.keys import new_private_key, private_pem
from tests.support.sync_device import DEVICE
from tests.support.tls import Client, TlsBroker, identity, make_ca

META = {"issued": "2026-11-29T00:00:00Z", "next_update": "2026-12-06T00:00:00Z"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"), DEVICE)


@pytest.fixture
def broker(tmp_path, certs):
    folder = tmp_path / "broker"
    folder.mkdir()
    server = TlsBroker(folder, certs)
    server.start()
    yield server
    server.stop()


def write_config(folder, broker, certs, who: str = "district") -> str:
    tls = identity(certs, who)
    path = folder / f"district-{who}.toml"
    path.write_text(f'[mqtt]\nurl = "{broker.url}"\nca = "{tls["ca"]}"\n'
                    f'cert = "{tls["cert"]}"\nkey = "{tls["key"]}"\n'
                    f'[signing]\nroot_key = "root-key.pem"\n')
    return str(path)


def signed(folder, kind: str, payload: dict, key: str = "root-key.pem") -> Path:
    source, out = folder / f"{kind}.json", folder / f"{kind}.bundle.json"
    source.write_text(json.dumps({**META, **payload}))
    assert main(["bundle", "sign", "--kind", kind, "--key", str(folder / key),
                 "--in", str(source), "--out", str(out)]) == 0
    return out


@pytest.fixture
def district(tmp_path, broker, certs):
    for name in ("root-key.pem", "stranger-key.pem"):
        (tmp_path / name).write_bytes(private_pem(new_private_key()))
    return tmp_path, write_config(tmp_path, broker, certs)


def publish(capsys, config, *args) -> tuple[int, list[dict]]:
    code = main(["district", "publish", *args, "--config", config])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_late_subscriber_receives_the_retained_bundles(district, broker, certs, capsys):
    folder, config = district
    trustlist = signed(folder, "trustlist", {"version": 3, "keys": []})
    revocations = signed(folder, "revocations", {"version": 9, "cti": ["ab"], "sub": []})
    policy = signed(folder, "policy", {"version": 2, "fever_threshold_c": 37.5})
    assert publish(capsys, config, "--kind", "trustlist", "--file", str(trustlist)) == (
        0, [{"topic": "cp/v1/district/trustlist", "kind": "trustlist", "version": 3,
             "bytes": len(trustlist.read_bytes())}])
    assert publish(capsys, config, "--kind", "revocations", "--file", str(revocations))[0] == 0
    assert publish(capsys, config, "--kind", "policy", "--file", str(policy),
                   "--device", DEVICE)[1][0]["topic"] == f"cp/v1/{DEVICE}/config"
    device = Client(broker, identity(certs, DEVICE))      # connects after the publishing
    try:
        # The literal topics a device takes bundles from: the broker refuses it wildcards.
        assert device.subscribe("cp/v1/district/trustlist", "cp/v1/district/revocations",
                                f"cp/v1/{DEVICE}/config") == [1, 1, 1]
        device.wait(lambda: len(device.messages) == 3)
    finally:
        device.close()
    received = {topic: (payload, retained) for topic, payload, retained in device.messages}
    assert received == {
        "cp/v1/district/trustlist": (trustlist.read_bytes(), True),
        "cp/v1/district/revocations": (revocations.read_bytes(), True),
        f"cp/v1/{DEVICE}/config": (policy.read_bytes(), True)}


def test_what_a_device_would_refuse_is_not_published(district, capsys):
    folder, config = district
    policy = signed(folder, "policy", {"version": 2})
    forged = signed(folder, "trustlist", {"version": 4, "keys": []}, key="stranger-key.pem")
    mistakes = [(["--kind", "policy", "--file", str(policy)], "per device: name the device"),
                (["--kind", "trustlist", "--file", str(policy)], "expected 'trustlist'"),
                (["--kind", "trustlist", "--file", str(forged)], "unknown root kid"),
                (["--kind", "trustlist", "--file", str(folder / "none")], "cannot read")]
    for args, message in mistakes:
        code = main(["district", "publish", *args, "--config", config])
        assert code == 2 and message in capsys.readouterr().err, args


def test_a_device_certificate_cannot_publish_bundles(district, broker, certs, capsys):
    folder, _ = district
    as_device = write_config(folder, broker, certs, who=DEVICE)
    trustlist = signed(folder, "trustlist", {"version": 5, "keys": []})
    assert main(["district", "publish", "--kind", "trustlist", "--file", str(trustlist),
                 "--config", as_device]) == 1
    assert "Not authorized" in capsys.readouterr().err
