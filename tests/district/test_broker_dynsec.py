"""The production broker's dynamic-security rules on a real Mosquitto (docs/broker.md): no
device certificate may join the receivers' shared subscription, so none can take a turn of
every device's batches; a revoked certificate cannot connect; a device not named in the
rules may do nothing; a client id cannot be used to push another client off; devices are
added live with mosquitto_ctrl."""

from __future__ import annotations

import datetime
import json
import subprocess

import pytest

from district.broker_acl import dynsec_config
from district.receiver import Receiver
from district.stores.sqlite import DistrictStore
from models.wire import Topics
from tests.district.test_broker_tls import NOT_AUTHORIZED, first_reply
from tests.support.tls import Client, TlsBroker, identity, make_ca, revoke
from tests.support.waiting import wait_for
from tests.support.wire import wire_batch, wire_record

DEVICE, OTHER, LATER = "dev-0001", "dev-0002", "dev-0007"
ADMIN = "ops-1"
TOPICS = Topics()
BATCHES = 40
GRANTED = 1                 # SUBACK: granted at QoS 1
# The rules before the plugin, for the comparison: the acl_file production.conf had.
ACL_FILE = """user district
topic read cp/v1/+/records
topic read cp/v1/+/status
topic write cp/v1/+/ack
topic write cp/v1/+/config
topic readwrite cp/v1/district/#
pattern write cp/v1/%u/records
pattern write cp/v1/%u/status
pattern read cp/v1/%u/ack
pattern read cp/v1/%u/config
pattern read cp/v1/district/#
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"), DEVICE, OTHER, LATER, ADMIN)


@pytest.fixture
def broker(tmp_path, certs):
    server = TlsBroker(tmp_path, certs, devices=[DEVICE, OTHER])
    server.start()
    yield server
    server.stop()


def acl_file_broker(folder, certs) -> TlsBroker:
    """production.conf as it was: the acl_file instead of the dynamic-security plugin."""
    server = TlsBroker(folder, certs)
    lines = [line for line in server.conf.read_text().splitlines()
             if not line.startswith(("plugin ", "plugin_opt_config_file "))]
    (folder / "acl").write_text(ACL_FILE)
    server.conf.write_text("\n".join([*lines, f"acl_file {folder}/acl"]) + "\n")
    return server


def connects(broker: TlsBroker, certs, name: str) -> bool:
    """A CONNECT with `name`'s certificate is answered with a CONNACK."""
    return first_reply(broker, certs / "ca.pem", certs / f"{name}.pem",
                       certs / f"{name}-key.pem") == 0x20


def test_a_device_is_refused_every_filter_but_its_own(broker, certs):
    device = Client(broker, identity(certs, DEVICE))
    try:
        foreign = [TOPICS.all_records(), "$share/anything/cp/v1/+/records",
                   f"$share/{DEVICE}/cp/v1/{OTHER}/records", f"$share/g/cp/v1/{DEVICE}/ack",
                   "cp/v1/+/records", f"cp/v1/{OTHER}/records", f"cp/v1/{OTHER}/ack",
                   f"cp/v1/{OTHER}/config", "cp/v1/+/ack", "cp/v1/district/#", "#", "$SYS/#",
                   "$CONTROL/dynamic-security/#"]
        assert device.subscribe(*foreign) == [NOT_AUTHORIZED] * len(foreign)
        own = [TOPICS.ack(DEVICE), *TOPICS.bundles(DEVICE)]     # ack, bundles, config
        assert device.subscribe(*own) == [GRANTED] * len(own)
    finally:
        device.close()


def test_a_receiver_is_granted_the_shared_records_and_the_status(broker, certs):
    receiver = Client(broker, identity(certs, "district"))
    try:
        assert receiver.subscribe(TOPICS.all_records(), TOPICS.all_status()) == [GRANTED] * 2
        # Only through the group: not the records outside it, not another group.
        assert receiver.subscribe("cp/v1/+/records", "$share/other/cp/v1/+/records",
                                  "#") == [NOT_AUTHORIZED] * 3
    finally:
        receiver.close()


@pytest.mark.parametrize("rules", ["dynamic-security", "acl_file"])
def test_a_rogue_shared_subscriber_takes_no_batch(tmp_path, certs, rules):
    """40 batches, one receiver, one device certificate asking for the receivers' group:
    with the plugin all 40 are committed; with the old acl_file the broker let the rogue
    in, gave it its turn of the batches and then dropped them at delivery."""
    server = TlsBroker(tmp_path, certs) if rules == "dynamic-security" else \
        acl_file_broker(tmp_path, certs)
    server.start()
    storage = DistrictStore(tmp_path / "district.db")
    receiver = Receiver(server.url, storage, tls=identity(certs, "district"))
    rogue = device = None
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe")
        rogue = Client(server, identity(certs, OTHER))
        granted = rogue.subscribe(TOPICS.all_records())
        device = Client(server, identity(certs, DEVICE))
        assert device.subscribe(TOPICS.ack(DEVICE)) == [GRANTED]
        batches = [wire_batch(wire_record(seq), device=DEVICE) for seq in range(1, 43)]
        for batch in batches[:BATCHES]:
            assert device.publish(TOPICS.records(DEVICE), json.dumps(batch).encode()) == 0

        def acked() -> set[str]:
            return {json.loads(payload)["batch"] for _, payload, _ in device.messages}

        if rules == "dynamic-security":
            assert granted == [NOT_AUTHORIZED]
            device.wait(lambda: len(device.messages) == BATCHES)
        else:
            assert granted == [GRANTED]
            # Two more: the shared subscription alternates, so one reaches the receiver,
            # whose acks come in order: then every batch it got before is acked.
            for batch in batches[BATCHES:]:
                device.publish(TOPICS.records(DEVICE), json.dumps(batch).encode())
            device.wait(lambda: acked() & {b["batch"] for b in batches[BATCHES:]})
        committed = acked() & {b["batch"] for b in batches[:BATCHES]}
        stored = storage.count()
        assert rogue.messages == []
    finally:
        for client in (rogue, device):
            if client:
                client.close()
        receiver.stop()
        storage.close()
        server.stop()
    if rules == "dynamic-security":
        assert len(committed) == BATCHES and stored == BATCHES
    else:
        assert 0 < len(committed) < BATCHES


def test_a_device_the_rules_do_not_name_may_do_nothing(broker, certs):
    stranger = Client(broker, identity(certs, LATER))     # a valid certificate: it connects
    try:
        assert stranger.subscribe(TOPICS.ack(LATER), TOPICS.district("trustlist"),
                                  TOPICS.all_records()) == [NOT_AUTHORIZED] * 3
        assert stranger.publish(TOPICS.records(LATER), b"{}") == NOT_AUTHORIZED
        assert stranger.publish(TOPICS.status(LATER), b"{}", retain=True) == NOT_AUTHORIZED
    finally:
        stranger.close()


def test_a_revoked_certificate_cannot_connect(tmp_path):
    certs = make_ca(tmp_path / "ca", DEVICE, OTHER)
    revoke(certs, DEVICE)
    server = TlsBroker(tmp_path, certs)
    server.start()
    try:
        assert not connects(server, certs, DEVICE)
        assert connects(server, certs, OTHER)
    finally:
        server.stop()


def test_an_expired_crl_shuts_every_client_out(tmp_path):
    """Why crl.pem must be rewritten before its next-update time (docs/broker.md)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    certs = make_ca(tmp_path / "ca", DEVICE)
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((certs / "ca-key.pem").read_bytes(), None)
    issued = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(issued).next_update(issued + datetime.timedelta(days=1))
           .sign(key, hashes.SHA256()))
    (certs / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    server = TlsBroker(tmp_path, certs)
    server.start()
    try:
        assert not connects(server, certs, DEVICE)
        assert not connects(server, certs, "district")
    finally:
        server.stop()


def test_sighup_rereads_the_crl_but_not_the_rules(tmp_path):
    """A CRL written while the broker runs counts for new connections after a SIGHUP; a
    connected client stays. The rules file is read only at start."""
    certs = make_ca(tmp_path / "ca", DEVICE, OTHER, LATER, "dev-0009")
    server = TlsBroker(tmp_path, certs, devices=[DEVICE, OTHER])
    server.start()
    connected = Client(server, identity(certs, DEVICE))
    try:
        connected.stay_offline()
        revoke(certs, DEVICE, "dev-0009")
        rules = dynsec_config([DEVICE, OTHER, LATER])
        (tmp_path / "dynsec.json").write_text(json.dumps(rules))
        assert connects(server, certs, "dev-0009"), "before the SIGHUP: the old CRL"
        server.reload()
        # dev-0009 stands in for DEVICE: connecting as DEVICE would replace `connected`.
        wait_for(lambda: not connects(server, certs, "dev-0009"), "the CRL to be reread")
        assert connected.subscribe(TOPICS.ack(DEVICE)) == [GRANTED] and connected.connected
        later = Client(server, identity(certs, LATER))
        try:
            assert later.subscribe(TOPICS.ack(LATER)) == [NOT_AUTHORIZED]
        finally:
            later.close()
    finally:
        connected.close()
    server.stop()
    server.start()                  # a restart reads the new rules and keeps the CRL
    try:
        assert not connects(server, certs, DEVICE)
        later = Client(server, identity(certs, LATER))
        try:
            assert later.subscribe(TOPICS.ack(LATER)) == [GRANTED]
        finally:
            later.close()
    finally:
        server.stop()


def test_a_client_id_cannot_push_another_device_off(broker, certs):
    victim = Client(broker, identity(certs, DEVICE), client_id=f"cp-{DEVICE}-0a1b2c3d")
    victim.stay_offline()
    try:
        # The broker names every client by its certificate: the ids asked for are ignored.
        for client_id in (f"cp-{DEVICE}-0a1b2c3d", DEVICE):
            intruder = Client(broker, identity(certs, OTHER), client_id=client_id)
            try:
                assert intruder.subscribe(TOPICS.ack(OTHER)) == [GRANTED]
            finally:
                intruder.close()
            assert victim.subscribe(TOPICS.ack(DEVICE)) == [GRANTED], client_id
        assert victim.disconnects == [] and victim.connected
        # The same certificate again replaces the first connection: one per identity.
        again = Client(broker, identity(certs, DEVICE), client_id="another-id")
        try:
            victim.wait(lambda: not victim.connected)
            assert again.subscribe(TOPICS.ack(DEVICE)) == [GRANTED]
        finally:
            again.close()
    finally:
        victim.close()


def test_two_receivers_with_their_own_certificates_share_the_records(tmp_path):
    certs = make_ca(tmp_path / "ca", DEVICE, receivers=["district-2"])
    server = TlsBroker(tmp_path, certs)
    server.start()
    stores = [DistrictStore(tmp_path / f"{name}.db") for name in ("district", "district-2")]
    receivers = [Receiver(server.url, store, tls=identity(certs, name))
                 for store, name in zip(stores, ("district", "district-2"), strict=True)]
    device = None
    try:
        for receiver in receivers:
            receiver.start()
        wait_for(lambda: all(r.connected for r in receivers), "both receivers to subscribe")
        device = Client(server, identity(certs, DEVICE))
        device.subscribe(TOPICS.ack(DEVICE))
        for seq in range(1, 11):
            batch = wire_batch(wire_record(seq), device=DEVICE)
            assert device.publish(TOPICS.records(DEVICE), json.dumps(batch).encode()) == 0
        device.wait(lambda: len(device.messages) == 10)
        wait_for(lambda: sum(r.batches for r in receivers) == 10, "both receivers' counts")
        assert all(r.batches > 0 for r in receivers), "each took its share"
        assert all(r.connected for r in receivers), "neither pushed the other off"
    finally:
        if device:
            device.close()
        for receiver in receivers:
            receiver.stop()
        for store in stores:
            store.close()
        server.stop()


def test_a_device_added_live_with_mosquitto_ctrl(tmp_path, certs):
    """The commands of docs/broker.md, "Adding a device while the broker runs"."""
    server = TlsBroker(tmp_path, certs, devices=[DEVICE], admin=ADMIN)
    server.start()
    ctrl = ["mosquitto_ctrl", "-h", server.host, "-p", str(server.port),
            "--cafile", str(certs / "ca.pem"), "--cert", str(certs / f"{ADMIN}.pem"),
            "--key", str(certs / f"{ADMIN}-key.pem"), "dynsec"]

    def run(*args: str) -> None:
        subprocess.run([*ctrl, *args], check=True, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)

    try:
        device = Client(server, identity(certs, DEVICE))
        try:        # not an admin: the plugin's API is not its to use
            assert device.subscribe("$CONTROL/dynamic-security/#") == [NOT_AUTHORIZED]
            assert device.publish("$CONTROL/dynamic-security/v1", b"{}") == NOT_AUTHORIZED
        finally:
            device.close()
        role = f"device-{OTHER}"
        run("createRole", role)
        for acltype, topic in (("publishClientSend", f"cp/v1/{OTHER}/records"),
                               ("publishClientSend", f"cp/v1/{OTHER}/status"),
                               *((kind, topic) for kind in ("subscribeLiteral",
                                                            "publishClientReceive")
                                 for topic in (f"cp/v1/{OTHER}/ack", f"cp/v1/{OTHER}/config",
                                               "cp/v1/district/trustlist",
                                               "cp/v1/district/revocations"))):
            run("addRoleACL", role, acltype, topic, "allow")
        run("createClient", OTHER)
        run("addClientRole", OTHER, role)
        added = Client(server, identity(certs, OTHER))
        try:
            assert added.subscribe(TOPICS.ack(OTHER), TOPICS.all_records(),
                                   TOPICS.ack(DEVICE)) == [GRANTED, NOT_AUTHORIZED,
                                                           NOT_AUTHORIZED]
            assert added.publish(TOPICS.records(OTHER), b"{}") == 0x10   # no subscriber
        finally:
            added.close()
        # The plugin keeps the change in its file: it survives a restart.
        saved = json.loads((tmp_path / "dynsec.json").read_text())
        ours = dynsec_config([OTHER])["roles"][0]
        assert {(a["acltype"], a["topic"]) for a in next(
            r for r in saved["roles"] if r["rolename"] == role)["acls"]} == \
            {(a["acltype"], a["topic"]) for a in ours["acls"]}
        run("deleteClient", OTHER)
        removed = Client(server, identity(certs, OTHER))
        try:
            assert removed.subscribe(TOPICS.ack(OTHER)) == [NOT_AUTHORIZED]
        finally:
            removed.close()
    finally:
        server.stop()
