"""verify_pass against passes made by the independent implementation, step by step."""

from __future__ import annotations

import base64
import os
import zlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.cp1 import issue_cp1
from models.trust import TrustStore
from models.verify import verify_pass
from tests.support import independent_cp1 as ind

NOW = 1_790_000_000
ISSUER = ind.new_key()
STRANGER = ind.new_key()


def store(*public_keys, revocations=None, **entry) -> TrustStore:
    keys = public_keys or (ISSUER.public_key(),)
    return TrustStore.from_payloads(ind.trustlist_payload(*keys, **entry), revocations)


TRUST = store()


def fresh(**overrides) -> dict:
    values = {"iat": NOW - 10, "exp": NOW + 110}
    return {**values, **overrides}


def reasons(text, trust=TRUST, now=NOW, lifetime=300):
    return verify_pass(text, trust, now, lifetime).reasons


def test_valid_pass_passes_with_every_claim_filled():
    sub, cti = os.urandom(16), os.urandom(16)
    text = ind.make_pass(ISSUER, sub=sub, cti=cti, color="yellow", nat=NOW - 7200,
                         nm="张*明", unit="3-2-101", **fresh())
    verdict = verify_pass(text, TRUST, NOW)
    assert verdict.valid and verdict.format == "CP1"
    assert (verdict.issuer, verdict.color, verdict.subject, verdict.cti) == (
        "CN-BJ-110105", "yellow", sub.hex(), cti.hex())
    assert verdict.kid == base64.b64encode(ind.kid(ISSUER.public_key())).decode()
    assert (verdict.iat, verdict.exp, verdict.tested_at) == (NOW - 10, NOW + 110, NOW - 7200)
    assert (verdict.name, verdict.unit) == ("张*明", "3-2-101")


@pytest.mark.parametrize("variant", [{"tagged": False}, {"kid_where": "unprotected"}])
def test_untagged_message_and_unprotected_kid_are_accepted(variant):
    assert reasons(ind.make_pass(ISSUER, **variant, **fresh())) == ()


def test_protected_kid_wins_over_unprotected():
    payload = cbor2.dumps(ind.claims(**fresh()))
    protected = cbor2.dumps({1: -7, 4: ind.kid(ISSUER.public_key())})
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    message = [protected, {4: b"\x00" * 8}, payload, ind.es256_raw(ISSUER, signed)]
    assert reasons(ind.qr_text(cbor2.dumps(cbor2.CBORTag(18, message)))) == ()


@pytest.mark.parametrize(("text", "reason"), [
    ("", "unknown_format"),
    ("https://example.org/pass", "unknown_format"),
    ("HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N", "malformed"),
    ("HC2:6BFOXN%TS3DH0YOJ58S", "unknown_format"),
    ("CP1:", "malformed"),
    ("CP1:not base45!", "malformed"),
    ("CP1:" + ind.base45(b"not zlib"), "malformed"),
    ("CP1:" + ind.base45(zlib.compress(b"\xa0")), "malformed"),                # a CBOR map
    ("CP1:" + ind.base45(zlib.compress(cbor2.dumps([1, 2, 3, 4]))), "malformed"),
    ("CP1:" + "A" * 20000, "malformed"),                                      # huge input
])
def test_garbage_is_refused_with_its_reason(text, reason):
    assert reasons(text) == (reason,)


def test_hc1_is_reported_as_such():
    assert verify_pass("HC1:NCFOXN", TRUST, NOW).format == "HC1"


def test_zlib_bomb_is_refused():
    assert reasons(ind.zlib_bomb()) == ("malformed",)


def test_trailing_bytes_and_wrong_tag_are_malformed():
    cose = ind.cose_sign1(ISSUER, cbor2.dumps(ind.claims(**fresh())))
    assert reasons(ind.qr_text(cose + b"\x00")) == ("malformed",)
    assert reasons(ind.qr_text(b"\xd8\x62" + cose[1:])) == ("malformed",)  # tag 98, Sign


@pytest.mark.parametrize("alg", [-37, -8, 0])   # PS256, EdDSA, none
def test_other_algorithms_are_malformed(alg):
    cose = ind.cose_sign1(ISSUER, cbor2.dumps(ind.claims(**fresh())), alg=alg)
    assert reasons(ind.qr_text(cose)) == ("malformed",)


@pytest.mark.parametrize("claims", [
    {6: True}, {4: 1.5}, {7: b"short"}, {1: 5}, {4: 2 ** 40},
])
def test_claims_of_the_wrong_type_are_malformed(claims):
    payload = cbor2.dumps({**ind.claims(**fresh()), **claims})
    assert reasons(ind.qr_text(ind.cose_sign1(ISSUER, payload))) == ("malformed",)


def test_unknown_colour_is_malformed():
    assert reasons(ind.make_pass(ISSUER, color="blue", **fresh())) == ("malformed",)


def test_unknown_key_still_reports_the_claims():
    verdict = verify_pass(ind.make_pass(STRANGER, **fresh()), TRUST, NOW)
    assert verdict.reasons == ("unknown_key",)
    assert verdict.issuer == "CN-BJ-110105" and verdict.color == "green"


def test_a_key_does_not_vouch_for_another_issuer():
    verdict = verify_pass(ind.make_pass(ISSUER, iss="CN-SH-310101", **fresh()), TRUST, NOW)
    assert verdict.reasons == ("unknown_key",)
    assert verdict.issuer == "CN-SH-310101"


def test_forged_pass_with_the_district_kid_has_a_bad_signature():
    text = ind.make_pass(STRANGER, key_id=ind.kid(ISSUER.public_key()), **fresh())
    assert reasons(text) == ("bad_signature",)


def test_tampered_payload_has_a_bad_signature():
    assert reasons(ind.tampered_pass(ISSUER, **fresh())) == ("bad_signature",)


def test_key_outside_its_validity_is_expired():
    expired = store(not_after="2026-01-01T00:00:00Z")
    early = store(not_before="2027-01-01T00:00:00Z")
    text = ind.make_pass(ISSUER, **fresh())
    assert reasons(text, expired) == ("key_expired",)
    assert reasons(text, early) == ("key_expired",)
    assert reasons(text, store(not_before="2026-01-01T00:00:00Z")) == ()


@pytest.mark.parametrize(("iat", "exp", "reason"), [
    (NOW + 30, NOW + 100, None),
    (NOW + 31, NOW + 100, "not_yet_valid"),
    (NOW - 100, NOW - 30, None),
    (NOW - 100, NOW - 31, "pass_expired"),
    (NOW - 100, NOW + 200, None),               # lifetime exactly 300
    (NOW - 100, NOW + 201, "lifetime_too_long"),
])
def test_time_rules_and_their_30_second_margin(iat, exp, reason):
    expected = (reason,) if reason else ()
    assert reasons(ind.make_pass(ISSUER, iat=iat, exp=exp)) == expected


def test_lifetime_limit_comes_from_the_caller():
    text = ind.make_pass(ISSUER, iat=NOW, exp=NOW + 120)
    assert reasons(text, lifetime=60) == ("lifetime_too_long",)


@pytest.mark.parametrize("by", ["cti", "sub"])
def test_revoked_pass_id_or_subject(by):
    ids = {"cti": os.urandom(16), "sub": os.urandom(16)}
    trust = store(revocations=ind.revocations_payload(**{by: [ids[by]]}))
    assert reasons(ind.make_pass(ISSUER, **ids, **fresh()), trust) == ("revoked",)
    assert reasons(ind.make_pass(ISSUER, **fresh()), trust) == ()


def test_two_keys_under_one_kid_either_may_sign():
    trust = store(ISSUER.public_key(), STRANGER.public_key())
    assert reasons(ind.make_pass(STRANGER, **fresh()), trust) == ()


def test_our_issued_pass_reads_in_the_independent_implementation():
    sub, cti = os.urandom(16), os.urandom(16)
    text = issue_cp1(ISSUER, iss="CN-BJ-110105", color="red", iat=NOW, exp=NOW + 60, sub=sub,
                     cti=cti, tested_at=NOW - 60, name="李*", unit="7-1")
    claims = ind.read_pass(text, ISSUER.public_key())
    assert claims == {1: "CN-BJ-110105", 6: NOW, 4: NOW + 60, 7: cti, -70000: {
        "sub": sub, "col": "red", "nat": NOW - 60, "nm": "李*", "unit": "7-1"}}
    assert reasons(text) == ()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400).map(
    lambda raw: "CP1:" + ind.base45(raw)), st.binary(max_size=400).map(
    lambda raw: "CP1:" + ind.base45(zlib.compress(raw)))))
def test_verify_never_raises(text):
    verdict = verify_pass(text, TRUST, NOW)
    assert len(verdict.reasons) == 1
    # the catch-all for unexpected exceptions forgets the format: it must not be reached
    assert verdict.format == ("CP1" if text.startswith("CP1:") else verdict.format)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.binary(max_size=20)
                    | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.integers(-8, 8) | st.text(max_size=3), inner,
                                      max_size=4), max_leaves=20))
def test_arbitrary_cbor_inside_a_valid_envelope_never_raises(value):
    cose = ind.cose_sign1(ISSUER, cbor2.dumps(value))
    verdict = verify_pass(ind.qr_text(cose), TRUST, NOW)
    assert (verdict.reasons, verdict.format) == (("malformed",), "CP1")


def test_der_encoded_signature_is_refused():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    payload = cbor2.dumps(ind.claims(**fresh()))
    protected = cbor2.dumps({1: -7, 4: ind.kid(ISSUER.public_key())})
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    der = ISSUER.sign(signed, ec.ECDSA(hashes.SHA256()))
    message = cbor2.CBORTag(18, [protected, {}, payload, der])
    assert reasons(ind.qr_text(cbor2.dumps(message))) == ("bad_signature",)
