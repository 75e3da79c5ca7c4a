"""Properties of the verifier on hostile input (hypothesis), and a short fuzzing run.

`judge` is the verifier without its catch-all, so an exception here is a real bug."""

from __future__ import annotations

import importlib.util
import sys
import zlib

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from models.base45 import b45decode, b45encode
from models.der import DerError, extended_key_usage
from models.verify import judge
from tests.support.hc1 import EC_CERT, EC_KEY, NOW, hc1_text, trust
from tests.support.paths import REPO

HC1_TRUST = trust(EC_CERT)
VALID_HC1 = hc1_text(EC_KEY, EC_CERT)


def _hc1_message() -> bytes:
    return zlib.decompress(b45decode(VALID_HC1[4:]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=300).map(lambda t: "HC1:" + t),
    st.binary(max_size=400).map(lambda raw: "HC1:" + b45encode(raw)),
    st.binary(max_size=400).map(lambda raw: "HC1:" + b45encode(zlib.compress(raw))),
    st.binary(max_size=200)))
def test_judge_never_raises_on_hc1_shaped_garbage(text):
    verdict = judge(text, HC1_TRUST, NOW)
    assert len(verdict.reasons) == 1


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_changed_byte_never_yields_a_valid_pass(data):
    message = bytearray(_hc1_message())
    protected_and_payload = slice(4, len(message) - 64)      # past the tag and array head
    at = data.draw(st.integers(protected_and_payload.start, protected_and_payload.stop - 1))
    message[at] ^= data.draw(st.integers(1, 255))
    verdict = judge("HC1:" + b45encode(zlib.compress(bytes(message))), HC1_TRUST, NOW)
    assert not verdict.valid


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=64, max_size=64))
def test_a_foreign_signature_never_verifies(signature):
    item = cbor2.loads(_hc1_message())
    forged = cbor2.CBORTag(18, [*item.value[:3], signature])
    verdict = judge("HC1:" + b45encode(zlib.compress(cbor2.dumps(forged))), HC1_TRUST, NOW)
    assert verdict.reasons == ("bad_signature",)


@given(st.binary(max_size=200))
def test_base45_round_trips(data):
    assert b45decode(b45encode(data)) == data


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_der_reader_refuses_garbage_only_with_its_own_error(data):
    try:
        extended_key_usage(data)
    except DerError:
        pass


def test_a_short_fuzzing_run_finds_no_crash():
    script = REPO / "scripts" / "fuzz_verify.py"
    spec = importlib.util.spec_from_file_location("fuzz_verify", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    report = module.fuzz(iterations=600, seconds=None, seed=3)
    assert report.tried == 600 and report.crashes == []
    assert {"malformed", "unknown_format"} <= set(report.reasons)
