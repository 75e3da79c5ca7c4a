"""`checkpoint doctor`'s broker line against the production broker config run for real
(TLS with client certificates, config/mosquitto/production.conf): the device's own pair
connects; the wrong CA, a certificate another CA signed and a plain connection to the TLS
port each fail with the fix for that case."""

from __future__ import annotations

import pytest

from tests.cli.test_doctor import by_name, doctor, write_config
from tests.support.tls import TlsBroker, identity, make_ca

DEVICE = "doctor-0001"


@pytest.fixture
def tls_broker(tmp_path):
    certs = make_ca(tmp_path / "ca", DEVICE)
    (tmp_path / "broker").mkdir()
    server = TlsBroker(tmp_path / "broker", certs)
    server.start()
    yield server
    server.stop()


def broker_line(demo_dir, tmp_path, url: str, tls: dict) -> dict:
    config = write_config(demo_dir, tmp_path, mqtt=url)
    files = "".join(f'{key} = "{path}"\n' for key, path in tls.items())
    config.write_text(config.read_text() + files)
    _, report = doctor(config)
    return by_name(report)["broker"]


def test_the_devices_own_certificate_connects(demo_dir, tmp_path, tls_broker):
    line = broker_line(demo_dir, tmp_path, tls_broker.url, identity(tls_broker.certs, DEVICE))
    assert line["status"] == "ok", line
    assert "with TLS and the device's certificate" in line["detail"]


def test_a_wrong_ca_is_named_with_the_tls_fix(demo_dir, tmp_path, tls_broker):
    other = make_ca(tmp_path / "other-ca", DEVICE)
    tls = {**identity(tls_broker.certs, DEVICE), "ca": other / "ca.pem"}
    line = broker_line(demo_dir, tmp_path, tls_broker.url, tls)
    assert line["status"] == "fail"
    assert ": TLS: " in line["detail"], line     # the verifier's own words follow
    assert "[mqtt] ca must be the district's CA" in line["hint"]


def test_a_certificate_another_ca_signed_is_refused(demo_dir, tmp_path, tls_broker):
    other = make_ca(tmp_path / "other-ca", DEVICE)
    tls = {**identity(other, DEVICE), "ca": tls_broker.certs / "ca.pem"}
    line = broker_line(demo_dir, tmp_path, tls_broker.url, tls)
    assert line["status"] == "fail", line
    assert "closed the connection without answering" in line["detail"]
    assert "cert and key this device's pair" in line["hint"]


def test_plain_mqtt_on_the_tls_port_is_named(demo_dir, tmp_path, tls_broker):
    url = tls_broker.url.replace("mqtts://", "mqtt://")
    line = broker_line(demo_dir, tmp_path, url, {})
    assert line["status"] == "fail", line
    assert "closed the connection without answering" in line["detail"]
    assert "the broker's TLS port" in line["hint"]
