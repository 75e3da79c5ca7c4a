"""Bundles from a hostile channel: every way one can be wrong is a named refusal, logged once,
and the trust in force stays. The agent-level faults (a real broker) are in
test_hostile_bundles.py."""

from __future__ import annotations

import base64
import json
import logging
from types import SimpleNamespace

import pytest

from edge.bundles import MAX_ISSUE_SKEW_S, Bundles
from edge.trust import TrustError, load_trust
from models.timefmt import parse_rfc3339, rfc3339
from tests.support import independent_cp1 as ind
from tests.support.independent_cp1 import unsupported_curve_spki

ROOT = ind.new_key()
ISSUER = ind.new_key()
NOW = parse_rfc3339("2026-06-01T00:00:00Z")
TOPIC = "cp/v1/district/trustlist"


class Clock:
    def __init__(self, synced: bool = True) -> None:
        self._synced = synced

    def now(self) -> float:
        return NOW

    def synced(self) -> bool:
        return self._synced


def signed(kind: str, version: int, issued: float = NOW - 3600, **body) -> bytes:
    payload = {"version": version, "issued": rfc3339(issued),
               "next_update": rfc3339(NOW + 86400), **body}
    return json.dumps(ind.envelope(kind, payload, ROOT)).encode()


def issuer_keys() -> list[dict]:
    return ind.trustlist_payload(ISSUER.public_key())["keys"]


@pytest.fixture
def holder(tmp_path):
    (tmp_path / "root.pem").write_bytes(ind.spki_pem(ROOT.public_key()))
    (tmp_path / "trustlist.json").write_bytes(
        signed("trustlist", 5, keys=issuer_keys()))
    trust = load_trust([tmp_path / "root.pem"], tmp_path / "trustlist.json",
                       policy=None)
    return SimpleNamespace(trust=trust, path=tmp_path)


def refusal(holder, payload: bytes, clock=None) -> str:
    bundles = Bundles(holder, clock or Clock())
    before = holder.trust
    assert not bundles.apply(TOPIC, payload)
    assert holder.trust is before and bundles.refused == 1
    with pytest.raises(TrustError) as refused:
        before.apply_bundle(payload, now=NOW, max_skew_s=MAX_ISSUE_SKEW_S)
    return refused.value.reason


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(("payload", "reason"), [
    (DEEP, "not a JSON bundle envelope (too_deep)"),
    (b'{"schema": ' + DEEP + b"}", "not a JSON bundle envelope (too_deep)"),
    (b"\xff\xfe", "not a JSON bundle envelope (not_utf8)"),
    (b'{"schema": NaN}', "not a JSON bundle envelope (bad_json)"),
    (b"[]", "bundle envelope is not a JSON object"),
    (json.dumps({"schema": "x" * 10_000}).encode(), "schema 'xxxxxxxxx"),
])
def test_unparseable_envelopes_are_refused_by_name(holder, payload, reason):
    assert refusal(holder, payload).startswith(reason)


def test_a_root_signed_payload_nested_too_deep_is_refused(holder):
    data = b'{"version": 6, "keys": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    envelope = {"schema": "checkpoint.bundle/1", "kind": "trustlist",
                "kid": base64.b64encode(ind.kid(ROOT.public_key())).decode(),
                "payload": base64.b64encode(data).decode(),
                "sig": base64.b64encode(ind.es256_raw(ROOT, data)).decode()}
    reason = refusal(holder, json.dumps(envelope).encode())
    assert "payload is not UTF-8 JSON of at most 8 levels (too_deep)" in reason


def test_a_key_on_an_unsupported_curve_is_refused_by_name(holder):
    keys = issuer_keys()
    keys[0]["spki"] = unsupported_curve_spki()
    del keys[0]["kid"]
    reason = refusal(holder, signed("trustlist", 6, keys=keys))
    assert "spki is not a DER public key" in reason and "1.2.3.4 is not supported" in reason


def test_a_bundle_issued_beyond_the_skew_is_refused_when_the_clock_is_synced(holder):
    ahead = signed("trustlist", 6, issued=NOW + MAX_ISSUE_SKEW_S + 60,
                   keys=issuer_keys())
    assert "ahead of this device's clock" in refusal(holder, ahead)
    # An unsynced clock cannot tell: the bundle is taken, and its `issued` becomes the floor.
    bundles = Bundles(holder, Clock(synced=False))
    assert bundles.apply(TOPIC, ahead) and holder.trust.trustlist_version == 6


@pytest.mark.parametrize(("body", "reason"), [
    ({"fever_threshold_c": 45.0}, "fever_threshold_c = 45.0; allowed: a number from 37.0"),
    ({"fever_threshold_c": 30}, "fever_threshold_c = 30"),
    ({"remeasure_band_c": 3.0}, "remeasure_band_c"),
    ({"max_pass_lifetime_s": 1}, "max_pass_lifetime_s = 1"),
    ({"max_test_age_h": 0}, "max_test_age_h = 0"),
    ({"allow_colors": []}, "allow_colors must include green"),
    ({"allow_colors": ["yellow", "red"]}, "allow_colors must include green"),
    ({"allow_colors": ["green", "green"]}, "at most once"),
    ({"allow_colors": "green"}, "allow_colors"),
])
def test_policies_outside_sane_bounds_are_refused_with_their_reason(holder, body, reason):
    assert reason in refusal(holder, signed("policy", 1, **body))


def test_a_sane_policy_is_taken(holder):
    bundles = Bundles(holder, Clock())
    assert bundles.apply("cp/v1/gate-1/config", signed("policy", 1, fever_threshold_c=37.5,
                                                      allow_colors=["green", "yellow"]))
    assert holder.trust.policy.fever_threshold_c == 37.5


def test_the_same_refusal_is_logged_once_but_counted_each_time(holder, caplog):
    bundles = Bundles(holder, Clock())
    with caplog.at_level(logging.WARNING, logger="checkpoint"):
        for _ in range(5):                  # a retained message after five reconnects
            assert not bundles.apply(TOPIC, DEEP)
        assert not bundles.apply(TOPIC, b"{}")      # another message: logged too
    lines = [r.getMessage() for r in caplog.records if "bundle_refused" in r.getMessage()]
    assert len(lines) == 2 and bundles.refused == 6
    assert "topic=cp/v1/district/trustlist" in lines[0] and "too_deep" in lines[0]
    for n in range(300):                    # a flood of distinct junk on another topic
        bundles.apply("cp/v1/gate-1/config", b"junk %d" % n)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="checkpoint"):
        assert not bundles.apply(TOPIC, DEEP)   # the retained one, after one more reconnect
    assert "district/trustlist" not in caplog.text


def test_a_flood_on_one_topic_keeps_only_the_latest_and_never_touches_another(holder):
    bundles = Bundles(holder, Clock())
    good = signed("trustlist", 6, keys=issuer_keys())
    bundles.submit(TOPIC, good)
    for n in range(10_000):
        bundles.submit("cp/v1/gate-1/config", b"junk %d" % n)
    assert bundles.counters() == {"bundles_received": 10_001, "bundles_superseded": 9_999,
                                  "bundles_refused": 0}
    bundles._round()                        # one round of the worker, on this thread
    assert holder.trust.trustlist_version == 6 and bundles.refused == 1


def test_a_bundle_whose_judging_raises_drops_no_other_topic(holder, caplog):
    class Raising:
        def __init__(self, real):
            self.real = real

        def apply_bundle(self, payload, **kwargs):
            if payload == b"boom":
                raise RuntimeError("a bug")
            return self.real.apply_bundle(payload, **kwargs)

    holder.trust = Raising(holder.trust)
    bundles = Bundles(holder, Clock())
    bundles.submit("cp/v1/gate-1/config", b"boom")
    bundles.submit(TOPIC, signed("trustlist", 6, keys=issuer_keys()))
    with caplog.at_level(logging.ERROR, logger="checkpoint"):
        bundles._round()
    assert holder.trust.trustlist_version == 6      # judged after the one that raised
    assert "event=bundle_failed" in caplog.text and bundles.refused == 1
