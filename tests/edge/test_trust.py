"""Bundles pushed at run time: refused unless verified and newer, swapped atomically,
persisted across restarts; staleness and the clock floor."""

from __future__ import annotations

import json

import pytest

from edge.policy import Context, Measurement, decide
from edge.trust import TrustError, load_trust
from models.timefmt import parse_rfc3339
from models.verify import verify_pass
from tests.support import independent_cp1 as ind

ROOT = ind.new_key()
ISSUER = ind.new_key()
NOW = parse_rfc3339("2026-06-01T00:00:00Z")


def _meta(version: int, issued="2026-05-01T00:00:00Z", next_update="2026-07-01T00:00:00Z"):
    return {"version": version, "issued": issued, "next_update": next_update}


def trustlist(version: int, *keys, **meta) -> bytes:
    payload = {**ind.trustlist_payload(*(keys or (ISSUER.public_key(),))), **_meta(version, **meta)}
    return json.dumps(ind.envelope("trustlist", payload, ROOT)).encode()


def revocations(version: int, cti=(), root=ROOT, **meta) -> bytes:
    payload = {**ind.revocations_payload(cti=cti), **_meta(version, **meta)}
    return json.dumps(ind.envelope("revocations", payload, root)).encode()


@pytest.fixture
def device(tmp_path):
    (tmp_path / "root.pem").write_bytes(ind.spki_pem(ROOT.public_key()))
    (tmp_path / "trustlist.json").write_bytes(trustlist(5))
    (tmp_path / "revocations.json").write_bytes(revocations(2))
    return tmp_path


def load(folder):
    return load_trust([folder / "root.pem"], folder / "trustlist.json",
                      folder / "revocations.json")


def test_newer_bundle_is_applied_persisted_and_survives_a_restart(device):
    cti = b"\x01" * 16
    state = load(device).apply_bundle(revocations(3, cti=[cti]))
    assert state.revocations_version == 3 and state.trustlist_version == 5
    text = ind.make_pass(ISSUER, cti=cti, iat=int(NOW), exp=int(NOW) + 60)
    assert verify_pass(text, state.store, NOW).reasons == ("revoked",)
    restarted = load(device)
    assert restarted.revocations_version == 3
    assert verify_pass(text, restarted.store, NOW).reasons == ("revoked",)
    assert sorted(p.name for p in device.iterdir()) == [
        "revocations.json", "root.pem", "trustlist.json"]      # no temp file left behind


def test_new_trustlist_keeps_the_revocations_in_force(device):
    state = load(device).apply_bundle(revocations(3, cti=[b"\x02" * 16]))
    newer = state.apply_bundle(trustlist(6))
    assert (newer.trustlist_version, newer.revocations_version) == (6, 3)
    assert newer.store.revoked_cti == {"02" * 16}


@pytest.mark.parametrize(("envelope", "reason"), [
    (lambda: trustlist(4), "version 4 is not newer than 5 in force \\(rollback\\)"),
    (lambda: trustlist(5, ind.new_key().public_key()), "version 5 is not newer"),
    (lambda: revocations(9, root=ind.new_key()), "unknown root kid"),
    (lambda: trustlist(6).replace(b'"sig": "', b'"sig": "AAAA'), "bad signature"),
    (lambda: json.dumps(ind.envelope("trustlist", {**_meta(7), "keys": "none"}, ROOT)),
     "malformed payload: .*keys. must be a list"),
    (lambda: json.dumps(ind.envelope("roster", {**_meta(7), "subjects": "all"}, ROOT)),
     "malformed payload: .*subjects. must be a list"),
    (lambda: b"{not json", "not a JSON bundle envelope"),
])
def test_refused_bundle_leaves_the_previous_one_in_force(device, envelope, reason):
    state = load(device)
    before = (device / "trustlist.json").read_bytes()
    with pytest.raises(TrustError, match=reason) as refused:
        state.apply_bundle(envelope())
    assert refused.value.reason in str(refused.value) and refused.value.kept
    assert (device / "trustlist.json").read_bytes() == before
    assert load(device).trustlist_version == 5


def test_the_bundle_in_force_delivered_again_changes_nothing(device):
    state = load(device)
    assert state.apply_bundle((device / "trustlist.json").read_bytes()) is state


def test_past_next_update_the_state_is_stale_and_a_valid_pass_needs_a_check(device):
    state = load(device)
    late = parse_rfc3339("2026-07-01T00:00:01Z")
    assert not state.stale(NOW) and state.stale(late)
    text = ind.make_pass(ISSUER, iat=int(late), exp=int(late) + 60)
    verdict = verify_pass(text, state.store, late)
    decision = decide(verdict, Measurement("ok", 36.5, age_s=0.1), state.policy,
                      Context(trust_stale=state.stale(late)), late)
    assert (decision.decision, decision.reasons) == ("check", ("trust_stale",))


def test_clock_is_never_believed_earlier_than_the_newest_bundle(device):
    state = load(device).apply_bundle(revocations(3, issued="2026-05-20T00:00:00Z"))
    floor = parse_rfc3339("2026-05-20T00:00:00Z")
    assert state.effective_now(floor - 86400 * 365) == floor
    assert state.effective_now(NOW) == NOW
    expired = ind.make_pass(ISSUER, iat=int(floor) - 7200, exp=int(floor) - 7000)
    reset_clock = floor - 7100          # a clock reset into the pass's lifetime
    assert verify_pass(expired, state.store, reset_clock).valid
    assert verify_pass(expired, state.store, state.effective_now(reset_clock)).reasons == (
        "pass_expired",)


def test_device_subject_key_wins_and_survives_a_pushed_trustlist(device):
    state = load_trust([device / "root.pem"], device / "trustlist.json",
                       subject_key=b"d" * 16)
    assert state.store.subject_key == b"d" * 16
    assert state.apply_bundle(trustlist(6)).store.subject_key == b"d" * 16
    with pytest.raises(TrustError, match="at least 16 bytes"):
        load_trust([device / "root.pem"], device / "trustlist.json", subject_key=b"short")


def test_an_envelope_given_as_a_dict_is_persisted_as_json(device):
    envelope = json.loads(revocations(4))
    assert load(device).apply_bundle(envelope).revocations_version == 4
    assert load(device).revocations_version == 4


def roster(version: int, *subjects: str, root=ROOT) -> bytes:
    payload = {**_meta(version), "subjects": [{"sub": sub, "unit": "3-2-401"} for sub in subjects]}
    return json.dumps(ind.envelope("roster", payload, root)).encode()


def test_a_pushed_roster_says_who_lives_here_and_survives_a_restart(device):
    path = device / "roster.json"
    state = load_trust([device / "root.pem"], device / "trustlist.json", roster=path)
    assert state.roster is None and state.on_roster("ab" * 16) is None     # not there yet
    state = state.apply_bundle(roster(1, "AB" * 16))
    assert (state.roster_version, state.on_roster("ab" * 16), state.on_roster("cd" * 16)) \
        == (1, True, False)
    assert state.on_roster(None) is False           # a pass with no subject is no resident
    with pytest.raises(TrustError, match="rollback"):
        state.apply_bundle(roster(1, "cd" * 16))
    restarted = load_trust([device / "root.pem"], device / "trustlist.json", roster=path)
    assert restarted.roster_version == 1 and restarted.on_roster("ab" * 16)
