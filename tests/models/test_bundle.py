"""Signed bundles and the device's trust loading (PROTOCOL.md section 3)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from edge.trust import TrustError, load_trust
from models.bundle import BundleError, open_bundle, sign_bundle
from models.keys import kid_of
from models.timefmt import parse_rfc3339
from tests.support import independent_cp1 as ind
from tests.support.paths import REPO

ROOT = ind.new_key()
ROOTS = {kid_of(ROOT.public_key()): ROOT.public_key()}
META = {"version": 3, "issued": "2026-11-01T00:00:00.000Z",
        "next_update": "2026-12-01T00:00:00Z"}


def test_independent_envelope_opens_with_its_metadata():
    payload = {**META, "cti": ["00ff"], "sub": []}
    bundle = open_bundle(json.dumps(ind.envelope("revocations", payload, ROOT)).encode(), ROOTS)
    assert (bundle.kind, bundle.version, bundle.payload["cti"]) == ("revocations", 3, ["00ff"])
    assert bundle.issued == parse_rfc3339("2026-11-01T00:00:00Z")
    assert bundle.next_update == parse_rfc3339("2026-12-01T00:00:00Z")


def test_signed_bundle_follows_the_envelope_format():
    envelope = sign_bundle("policy", {**META, "fever_threshold_c": 37.5}, ROOT)
    assert envelope["schema"] == "checkpoint.bundle/1" and envelope["kind"] == "policy"
    assert base64.b64decode(envelope["kid"]) == ind.kid(ROOT.public_key())
    assert json.loads(base64.b64decode(envelope["payload"]))["fever_threshold_c"] == 37.5
    assert len(base64.b64decode(envelope["sig"])) == 64
    assert open_bundle(envelope, ROOTS, expect_kind="policy").payload["version"] == 3


def _tampered(envelope: dict) -> dict:
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["version"] += 1
    return {**envelope, "payload": base64.b64encode(json.dumps(payload).encode()).decode()}


@pytest.mark.parametrize(("change", "message"), [
    (_tampered, "bad signature"),
    (lambda e: {**e, "sig": base64.b64encode(b"\x01" * 64).decode()}, "bad signature"),
    (lambda e: {**e, "kid": base64.b64encode(b"\x00" * 8).decode()}, "unknown root kid"),
    (lambda e: {**e, "schema": "checkpoint.bundle/2"}, "schema"),
    (lambda e: {**e, "kind": "keys"}, "kind"),
    (lambda e: {**e, "payload": "%%%"}, "not base64"),
    (lambda e: {k: v for k, v in e.items() if k != "sig"}, "sig"),
])
def test_a_bundle_that_must_not_be_used_names_why(change, message):
    envelope = sign_bundle("trustlist", {**META, "keys": []}, ROOT)
    with pytest.raises(BundleError, match=message):
        open_bundle(change(envelope), ROOTS)


def test_wrong_kind_for_the_slot_is_refused():
    envelope = sign_bundle("policy", dict(META), ROOT)
    with pytest.raises(BundleError, match="expected 'trustlist'"):
        open_bundle(envelope, ROOTS, expect_kind="trustlist")


@pytest.mark.parametrize("missing", ["version", "issued", "next_update"])
def test_metadata_is_required(missing):
    payload = {k: v for k, v in META.items() if k != missing}
    with pytest.raises(BundleError, match=missing):
        open_bundle(ind.envelope("policy", payload, ROOT), ROOTS)
    with pytest.raises(BundleError, match=missing):
        sign_bundle("policy", payload, ROOT)


def test_non_json_payload_is_refused():
    envelope = ind.envelope("policy", {}, ROOT)
    envelope["payload"] = base64.b64encode(b"\xff\xfe").decode()
    envelope["sig"] = base64.b64encode(ind.es256_raw(ROOT, b"\xff\xfe")).decode()
    with pytest.raises(BundleError, match="not UTF-8 JSON"):
        open_bundle(envelope, ROOTS)


def test_demo_trust_loads_with_its_policy(demo_dir):
    demo = demo_dir / "demo"
    state = load_trust([demo / "root-pub.pem"], demo / "trustlist.json",
                       demo / "revocations.json", demo / "policy.json")
    assert state.policy.require_synced_clock is False
    assert (state.trustlist_version, state.revocations_version, state.policy_version) == (1, 1, 1)
    issuer = ind.load_key(demo / "issuer-key.pem")
    [key] = state.store.keys[ind.kid(issuer.public_key())]
    assert key.iss == "CN-BJ-110105"
    assert not state.stale(parse_rfc3339("2030-01-01")) and state.stale(parse_rfc3339("2040-01-01"))


def test_make_demo_is_idempotent(demo_dir):
    demo = demo_dir / "demo"
    before = {p.name: p.read_bytes() for p in demo.iterdir()}
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo.py"), str(demo)],
                   check=True, capture_output=True)
    assert {p.name: p.read_bytes() for p in demo.iterdir()} == before


def _write(path, envelope) -> None:
    path.write_text(json.dumps(envelope))


@pytest.fixture
def district(tmp_path):
    issuer = ind.new_key()
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(ind.spki_pem(ROOT.public_key()))
    _write(tmp_path / "trustlist.json",
           ind.envelope("trustlist", ind.trustlist_payload(issuer.public_key()), ROOT))
    return tmp_path


def test_trust_loads_without_optional_bundles(district):
    state = load_trust([district / "root.pem"], district / "trustlist.json")
    assert state.policy.max_pass_lifetime_s == 300 and state.policy.require_synced_clock
    assert state.revocations_version is None and state.policy_version is None


@pytest.mark.parametrize(("setup", "args", "message"), [
    (None, {"trustlist": "absent.json"}, "absent.json: cannot read"),
    (lambda d: (d / "root.pem").write_text("junk"), {}, "root.pem: not a PEM"),
    (lambda d: _write(d / "trustlist.json", ind.envelope(
        "trustlist", ind.trustlist_payload(), ind.new_key())), {}, "unknown root kid"),
    (lambda d: _write(d / "p.json", ind.envelope("policy", {**META, "colour": 1}, ROOT)),
     {"policy": "p.json"}, "p.json: policy: unknown key"),
    (lambda d: _write(d / "r.json", ind.envelope("revocations", {**META, "cti": ["xyz"]},
                                                  ROOT)), {"revocations": "r.json"},
     "r.json: revocations cti\\[0\\]: not hex"),
    (lambda d: _write(d / "p.json", ind.envelope("revocations", META, ROOT)),
     {"policy": "p.json"}, "policy .*p.json: kind 'revocations'"),
])
def test_trust_errors_name_the_file_and_problem(district, setup, args, message):
    if setup:
        setup(district)
    paths = {"trustlist": "trustlist.json", "revocations": None, "policy": None, **args}
    with pytest.raises(TrustError, match=message):
        load_trust([district / "root.pem"],
                   *(district / p if p else None for p in paths.values()))


def test_trustlist_entry_kid_must_match_its_key():
    from models.trust import TrustDataError, TrustStore

    payload = ind.trustlist_payload(ind.new_key().public_key())
    payload["keys"][0]["kid"] = base64.b64encode(b"\x01" * 8).decode()
    with pytest.raises(TrustDataError, match="kid does not match"):
        TrustStore.from_payloads(payload)


def test_trustlist_cert_entry_takes_its_validity_from_the_certificate():
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from models.trust import TrustStore

    key = ind.new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSC")])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    entry = {"kid": base64.b64encode(b"\x07" * 8).decode(), "cert": base64.b64encode(der).decode()}
    [trust_key] = TrustStore.from_payloads({**META, "keys": [entry]}).keys[b"\x07" * 8]
    assert trust_key.valid_at(start.timestamp() + 86400)
    assert not trust_key.valid_at(start.timestamp() + 366 * 86400)
    assert ind.spki(trust_key.public_key) == ind.spki(key.public_key())
