"""HC1 (EU DCC) through verify_pass, with DSCs and certificates made here by cbor2 and
cryptography directly (no models code on the signing side)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import zlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from models.base45 import b45decode
from models.trust import TrustStore
from models.verify import verify_pass
from tests.support.hc1 import (
    DAY,
    EC_CERT,
    EC_KEY,
    MISTYPED_VACC,
    NOW,
    RECOVERY,
    SUBJECT_KEY,
    TEST,
    VACC,
    dcc,
    dsc,
    hc1_text,
    trust,
)
from tests.support.independent_cp1 import base45


def test_es256_vaccination_passes_with_a_keyed_subject_and_no_name():
    verdict = verify_pass(hc1_text(EC_KEY, EC_CERT), trust(EC_CERT), NOW)
    assert verdict.valid and verdict.format == "HC1"
    assert (verdict.issuer, verdict.color, verdict.cti, verdict.name) == ("XX", "green", None, None)
    person = b"MUELLER\x1fANNA\x1f1990-01-31"
    assert verdict.subject == hmac.new(SUBJECT_KEY, person, hashlib.sha256).digest()[:16].hex()
    assert "MUELLER" not in repr(verdict) and "1990" not in repr(verdict)


def test_without_a_district_subject_key_no_subject_is_reported():
    verdict = verify_pass(hc1_text(EC_KEY, EC_CERT), trust(EC_CERT, subject_key=None), NOW)
    assert verdict.valid and verdict.subject is None


def test_ps256_with_a_3072_bit_key_passes():
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    cert = dsc(key)
    assert verify_pass(hc1_text(key, cert), trust(cert), NOW).reasons == ()


def test_every_key_under_the_kid_is_tried():
    other = ec.generate_private_key(ec.SECP256R1())
    kid = b"\x05" * 8
    both = trust(dsc(other), EC_CERT, kid=kid)
    assert verify_pass(hc1_text(EC_KEY, EC_CERT, kid=kid), both, NOW).reasons == ()


@pytest.mark.parametrize(("eku", "kind", "reason"), [
    ((VACC,), "v", None),
    ((TEST,), "v", "wrong_key_usage"),
    ((RECOVERY,), "t", "wrong_key_usage"),
    ((TEST, RECOVERY), "r", None),
    ((MISTYPED_VACC,), "v", None),
    ((MISTYPED_VACC,), "r", "wrong_key_usage"),
    (("1.3.6.1.5.5.7.3.4",), "t", None),        # EKU without a health usage: every type
])
def test_signer_key_usage(eku, kind, reason):
    cert = dsc(EC_KEY, eku=eku)
    verdict = verify_pass(hc1_text(EC_KEY, cert, certificate=dcc(kind)), trust(cert), NOW)
    assert verdict.reasons == ((reason,) if reason else ())


def test_a_certificate_outliving_its_signer_is_refused():
    cert = dsc(EC_KEY, days=(-100, 10))
    text = hc1_text(EC_KEY, cert, exp=NOW + 11 * DAY)
    assert verify_pass(text, trust(cert), NOW).reasons == ("key_expired",)


@pytest.mark.parametrize(("now", "reason"), [
    (NOW - DAY - 31, "not_yet_valid"), (NOW + 30 * DAY + 31, "pass_expired")])
def test_time_rules(now, reason):
    assert verify_pass(hc1_text(EC_KEY, EC_CERT), trust(EC_CERT), now).reasons == (reason,)


def test_a_long_lived_dcc_is_not_held_to_cp1_lifetime():
    text = hc1_text(EC_KEY, EC_CERT, iat=NOW - 200 * DAY, exp=NOW + 100 * DAY)
    assert verify_pass(text, trust(EC_CERT), NOW, max_lifetime_s=300).valid


def test_positive_test_is_red_and_carries_its_sample_time():
    positive = dcc("t", tr="260373001")
    verdict = verify_pass(hc1_text(EC_KEY, EC_CERT, certificate=positive), trust(EC_CERT), NOW)
    expected_sc = dt.datetime(2026, 9, 21, 12, tzinfo=dt.UTC).timestamp()
    assert (verdict.color, verdict.tested_at) == ("red", expected_sc)


def test_revoked_by_uvci_hash_or_subject():
    uvci_hash = hashlib.sha256(b"URN:UVCI:01:XX:TESTv").digest()[:16].hex()
    text = hc1_text(EC_KEY, EC_CERT)
    subject = verify_pass(text, trust(EC_CERT), NOW).subject
    assert verify_pass(text, trust(EC_CERT, revoked_cti=[uvci_hash]), NOW).reasons == (
        "revoked",)
    assert verify_pass(text, trust(EC_CERT, revoked_sub=[subject]), NOW).reasons == ("revoked",)


def test_der_encoded_signature_and_foreign_algorithms_are_refused():
    assert verify_pass(hc1_text(EC_KEY, EC_CERT, der_signature=True), trust(EC_CERT),
                       NOW).reasons == ("bad_signature",)
    for alg in (-35, -8, 0, "ES256"):
        assert verify_pass(hc1_text(EC_KEY, EC_CERT, alg=alg), trust(EC_CERT),
                           NOW).reasons == ("malformed",)


def test_rsa_signature_cannot_pass_as_es256_or_the_reverse():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = dsc(key)
    assert verify_pass(hc1_text(key, cert, alg=-7), trust(cert), NOW).reasons == (
        "bad_signature",)
    assert verify_pass(hc1_text(EC_KEY, EC_CERT, alg=-37), trust(EC_CERT), NOW).reasons == (
        "bad_signature",)


def test_zlib_cap_is_64_kib_for_hc1():
    fits = hc1_text(EC_KEY, EC_CERT, pad=bytes(20_000))     # 40 KB of CBOR: over CP1's 4 KiB
    assert verify_pass(fits, trust(EC_CERT), NOW).valid
    bomb = "HC1:" + base45(zlib.compress(b"\x00" * 70_000))
    assert verify_pass(bomb, trust(EC_CERT), NOW).reasons == ("malformed",)


def _reencoded(text: str, change) -> str:
    message = cbor2.loads(zlib.decompress(b45decode(text[4:])))
    return "HC1:" + base45(zlib.compress(cbor2.dumps(change(list(message.value)))))


@pytest.mark.parametrize(("change", "reason"), [
    (lambda parts: cbor2.CBORTag(61, cbor2.CBORTag(18, parts)), None),   # CWT + COSE tags
    (lambda parts: parts, None),                                         # untagged
    (lambda parts: cbor2.CBORTag(61, parts), "malformed"),               # CWT tag alone
    (lambda parts: cbor2.CBORTag(98, parts), "malformed"),               # COSE_Sign
    (lambda parts: cbor2.CBORTag(18, [*parts, b""]), "malformed"),       # five items
    (lambda parts: cbor2.CBORTag(18, [cbor2.loads(parts[0]), *parts[1:]]), "malformed"),
    (lambda parts: cbor2.CBORTag(18, [parts[0], [], *parts[2:]]), "malformed"),
    (lambda parts: cbor2.CBORTag(18, [*parts[:3], "sig"]), "malformed"),
    (lambda parts: cbor2.CBORTag(18, [parts[0], {4: b"\x00" * 8}, *parts[2:]]), None),
])
def test_cose_structure_is_exact(change, reason):
    text = _reencoded(hc1_text(EC_KEY, EC_CERT), change)
    assert verify_pass(text, trust(EC_CERT), NOW).reasons == ((reason,) if reason else ())


def test_a_trust_list_entry_narrows_but_never_widens_the_dsc_validity():
    short = dsc(EC_KEY, days=(-100, 10))
    entry = {"cert": base64.b64encode(short).decode(), "not_after": "2099-01-01T00:00:00Z",
             "not_before": "2026-09-22T00:00:00Z"}
    [key] = TrustStore.from_payloads({"keys": [entry]}).keys[hashlib.sha256(short).digest()[:8]]
    assert key.not_after == NOW + 10 * DAY
    assert key.not_before == dt.datetime(2026, 9, 22, tzinfo=dt.UTC).timestamp()
