"""config/mosquitto/production.conf on a real Mosquitto, with certificates from
scripts/make-test-ca.sh and the dynamic-security rules of district/broker_acl.py: who may
connect, and what a device may write and read (tests/district/test_broker_dynsec.py: the
shared subscription, revocation, client ids, live changes)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import uuid

import pytest

from district.receiver import Receiver
from district.stores import open_store
from district.stores.sqlite import DistrictStore
from drivers.clock import SystemClock
from edge.store import Store
from edge.sync import Sync
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.sync_device import DEVICE, FAST, decide
from tests.support.tls import Client, TlsBroker, identity, make_ca
from tests.support.waiting import wait_for

OTHER = "dev-0002"
# MQTT 5 CONNECT: clean start, keepalive 60 s, no properties, empty client id.
CONNECT = bytes([0x10, 13]) + b"\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x00"
NOT_AUTHORIZED = 0x87




@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"), DEVICE, OTHER)


@pytest.fixture(scope="module")
def stranger_certs(tmp_path_factory):
    """Another CA issuing a certificate with the right CN: must not be accepted."""
    return make_ca(tmp_path_factory.mktemp("stranger-ca"), DEVICE)


@pytest.fixture
def broker(tmp_path, certs):
    server = TlsBroker(tmp_path, certs)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def district(tmp_path, broker, certs):
    storage = DistrictStore(tmp_path / "district.db")
    receiver = Receiver(broker.url, storage, tls=identity(certs, "district"))
    receiver.start()
    wait_for(lambda: receiver.connected, "the receiver to connect over TLS")
    yield receiver, storage
    receiver.stop()
    storage.close()


def first_reply(broker: TlsBroker, ca, cert=None, key=None, *, use_tls: bool = True):
    """Send a CONNECT; the first byte back (0x20 = CONNACK), or None when refused."""
    context = ssl.create_default_context(cafile=str(ca))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    raw = socket.create_connection((broker.host, broker.port), timeout=5)
    try:
        sock = context.wrap_socket(raw, server_hostname="localhost") if use_tls else raw
        sock.sendall(CONNECT)
        reply = sock.recv(1)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return None
    finally:
        raw.close()
    return reply[0] if reply else None


def batch_for(device: str, seq: int) -> bytes:
    record = {"id": str(uuid.uuid4()), "seq": seq, "ts": "2026-11-29T03:04:05.123Z",
              "clock_synced": True, "gate": "east-1", "decision": "pass", "reasons": [],
              **dict.fromkeys(("pass_format", "issuer", "kid", "subject", "color",
                               "pass_exp", "tested_at", "temperature_c", "operator", "note"))}
    return json.dumps({"schema": "checkpoint.batch/1", "device": device,
                       "store": str(uuid.uuid4()), "batch": str(uuid.uuid4()),
                       "sent": record["ts"], "records": [record]}).encode()


def test_a_device_with_its_certificate_delivers_through_sync(
        tmp_path, broker, certs, district_store_url):  # noqa: F811 - the imported fixture
    """`checkpoint district serve` with its TLS config, a device through edge.sync.Sync."""
    tls = identity(certs, "district")
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\nca = "{tls["ca"]}"\n'
                      f'cert = "{tls["cert"]}"\nkey = "{tls["key"]}"\n'
                      f'[store]\nurl = "{district_store_url}"\n')
    serve = subprocess.Popen([sys.executable, "-m", "cli.main", "district", "serve",
                              "--config", str(config)], stdout=subprocess.PIPE, text=True)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(serve.stdout), daemon=True).start()
    try:
        wait_for(lambda: any("event=receiver_ready" in line for line in log),
                 "the receiver to connect over TLS")
        with Store(tmp_path / "device.db") as device:
            sync = Sync(broker.url, device=DEVICE, store_path=device.path,
                        clock=SystemClock(), tls=identity(certs, DEVICE), timing=FAST)
            sync.start()
            try:
                decide(device, 250)
                sync.notify()
                wait_for(lambda: device.backlog()[0] == 0, "every record acked over TLS")
            finally:
                sync.stop()
            ids = sorted(r["id"] for r in device.records())
        with open_store(district_store_url) as storage:
            rows = list(storage.records())
            wait_for(lambda: [d["device"] for d in storage.devices()] == [DEVICE],
                     "the device's status in the registry")
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    assert sorted(r["id"] for r in rows) == ids and len(rows) == 250
    assert {r["device"] for r in rows} == {DEVICE}


def test_who_may_connect(broker, certs, stranger_certs):
    ca = certs / "ca.pem"
    assert first_reply(broker, ca, certs / f"{DEVICE}.pem", certs / f"{DEVICE}-key.pem") == 0x20
    assert first_reply(broker, ca) is None, "a client without a certificate"
    assert first_reply(broker, ca, stranger_certs / f"{DEVICE}.pem",
                       stranger_certs / f"{DEVICE}-key.pem") is None, "another CA's cert"
    assert first_reply(broker, ca, use_tls=False) is None, "plain MQTT on the TLS port"
    make_ca(certs, "dev-0003")      # a device added later, by the same CA
    assert first_reply(broker, ca, certs / "dev-0003.pem", certs / "dev-0003-key.pem") == 0x20


def test_a_device_cannot_write_as_another(broker, certs, district):
    receiver, storage = district
    other = Client(broker, identity(certs, OTHER))
    try:
        forged = batch_for(DEVICE, 1)
        assert other.publish(f"cp/v1/{DEVICE}/records", forged) == NOT_AUTHORIZED
        status = {"schema": "checkpoint.status/1", "device": DEVICE, "online": True}
        assert other.publish(f"cp/v1/{DEVICE}/status", json.dumps(status).encode(),
                             retain=True) == NOT_AUTHORIZED
        assert other.publish(f"cp/v1/{DEVICE}/ack", b"{}") == NOT_AUTHORIZED
        assert other.publish("cp/v1/district/trustlist", b"{}", retain=True) == NOT_AUTHORIZED
        # Its own topic works, and arrives after the forged publishes (same connection):
        # once it is stored, the forged batch would have been too.
        assert other.publish(f"cp/v1/{OTHER}/records", batch_for(OTHER, 1)) == 0
        wait_for(lambda: storage.count() == 1, "the device's own batch")
    finally:
        other.close()
    assert [r["device"] for r in storage.records()] == [OTHER]
    assert receiver.refused == []
    assert DEVICE not in [d["device"] for d in storage.devices()]


def test_a_device_reads_only_its_own_and_the_districts(broker, certs):
    district = Client(broker, identity(certs, "district"))
    other = Client(broker, identity(certs, OTHER))
    try:
        # The broker refuses every filter but the device's own literal topics outright
        # (dynamic-security checks at SUBSCRIBE time), wildcards over its own included.
        assert other.subscribe(f"cp/v1/{DEVICE}/#", "cp/v1/+/records", f"cp/v1/{DEVICE}/ack",
                               "cp/v1/district/#", f"cp/v1/{OTHER}/#") == [NOT_AUTHORIZED] * 5
        assert other.subscribe(f"cp/v1/{OTHER}/ack", f"cp/v1/{OTHER}/config",
                               "cp/v1/district/revocations") == [1, 1, 1]
        # 0x10: accepted, "no matching subscribers": nobody holds a filter over DEVICE's.
        for topic, puback in ((f"cp/v1/{DEVICE}/ack", 0x10), (f"cp/v1/{DEVICE}/config", 0x10),
                              (f"cp/v1/{OTHER}/ack", 0), ("cp/v1/district/revocations", 0)):
            assert district.publish(topic, topic.encode()) == puback, topic
        # In order from one publisher: when the last arrived, the others would have too.
        other.wait(lambda: len(other.messages) == 2)
    finally:
        other.close()
        district.close()
    assert [topic for topic, _, _ in other.messages] == [f"cp/v1/{OTHER}/ack",
                                                      "cp/v1/district/revocations"]
