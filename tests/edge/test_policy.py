"""Every reason code the policy can give, as a table: inputs -> decision and reasons."""

from __future__ import annotations

import pytest

from edge.policy import Context, Decision, Measurement, decide, judge_pass, override
from models import reasons as R
from models.passes import Verdict
from models.policy import Policy, PolicyError

NOW = 1_790_000_000
GREEN = Verdict(format="CP1", color="green", iat=NOW - 10, exp=NOW + 100, cti="aa", subject="bb")
OK = Measurement("ok", 36.5, 0.1)
POLICY = Policy()


def failed(reason: str) -> Verdict:
    return Verdict(reasons=(reason,), format="CP1")


CASES = [
    # name, verdict, measurement, policy, context, expected decision, expected reasons
    ("plain pass", GREEN, OK, POLICY, Context(), R.PASS, ()),
    ("unreadable asks the guard", failed(R.UNREADABLE), OK, POLICY, Context(), R.CHECK,
     (R.UNREADABLE,)),
    *[(f"verification {code}", failed(code), OK, POLICY, Context(), R.DENY, (code,))
      for code in (R.UNKNOWN_FORMAT, R.MALFORMED, R.BAD_SIGNATURE, R.UNKNOWN_KEY,
                   R.KEY_EXPIRED, R.WRONG_KEY_USAGE, R.PASS_EXPIRED, R.NOT_YET_VALID,
                   R.LIFETIME_TOO_LONG, R.REVOKED)],
    ("replayed screenshot", GREEN, OK, POLICY, Context(already_passed=True), R.DENY,
     (R.REPLAYED,)),
    ("yellow", Verdict(format="CP1", color="yellow"), OK, POLICY, Context(), R.DENY,
     (R.COLOR_YELLOW,)),
    ("red", Verdict(format="CP1", color="red"), OK, POLICY, Context(), R.DENY, (R.COLOR_RED,)),
    ("yellow allowed by policy", Verdict(format="CP1", color="yellow"), OK,
     Policy(allow_colors=("green", "yellow")), Context(), R.PASS, ()),
    ("test required, none", GREEN, OK, Policy(max_test_age_h=48), Context(), R.DENY,
     (R.TEST_MISSING,)),
    ("test too old", Verdict(format="CP1", color="green", tested_at=NOW - 49 * 3600), OK,
     Policy(max_test_age_h=48), Context(), R.DENY, (R.TEST_TOO_OLD,)),
    ("test recent", Verdict(format="CP1", color="green", tested_at=NOW - 47 * 3600), OK,
     Policy(max_test_age_h=48), Context(), R.PASS, ()),
    ("fever at threshold, re-measured", GREEN, Measurement("ok", 37.3, 0.1, remeasured=True),
     POLICY, Context(), R.DENY, (R.FEVER,)),
    ("just below threshold, re-measured", GREEN,
     Measurement("ok", 37.29, 0.1, remeasured=True), POLICY, Context(), R.PASS, ()),
    ("near threshold, one window only", GREEN, Measurement("ok", 37.29, 0.1), POLICY,
     Context(), R.CHECK, (R.TEMPERATURE_MISSING,)),
    ("fever near threshold, one window only", GREEN, Measurement("ok", 37.4, 0.1), POLICY,
     Context(), R.CHECK, (R.TEMPERATURE_MISSING,)),
    ("clear fever needs no second window", GREEN, Measurement("ok", 38.2, 0.1), POLICY,
     Context(), R.DENY, (R.FEVER,)),
    ("screener's hysteresis keeps a fever", GREEN,
     Measurement("ok", 37.2, 0.1, remeasured=True, fever=True), POLICY, Context(), R.DENY,
     (R.FEVER,)),
    ("stale estimate", GREEN, Measurement("ok", 36.5, 1.5), POLICY, Context(), R.CHECK,
     (R.TEMPERATURE_MISSING,)),
    ("estimate without an age", GREEN, Measurement("ok", 36.5), POLICY, Context(), R.CHECK,
     (R.TEMPERATURE_MISSING,)),
    *[(f"no estimate: {state}", GREEN, Measurement(state), POLICY, Context(), R.CHECK,
       (R.TEMPERATURE_MISSING,))
      for state in ("missing", "retry", "unseparated", "left", "out_of_range", "warming_up")],
    ("sensor fault", GREEN, Measurement("sensor_fault"), POLICY, Context(), R.CHECK,
     (R.SENSOR_FAULT,)),
    ("stale trust", GREEN, OK, POLICY, Context(trust_stale=True), R.CHECK, (R.TRUST_STALE,)),
    ("clock unsynced", GREEN, OK, POLICY, Context(clock_synced=False), R.CHECK,
     (R.CLOCK_UNSYNCED,)),
    ("clock unsynced allowed", GREEN, OK, Policy(require_synced_clock=False),
     Context(clock_synced=False), R.PASS, ()),
    ("visitor to register", GREEN, OK, POLICY, Context(on_roster=False), R.CHECK,
     (R.VISITOR,)),
    ("visitor refused", GREEN, OK, Policy(visitors="deny"), Context(on_roster=False), R.DENY,
     (R.VISITOR,)),
    ("visitor allowed", GREEN, OK, Policy(visitors="allow"), Context(on_roster=False), R.PASS,
     ()),
    ("resident", GREEN, OK, POLICY, Context(on_roster=True), R.PASS, ()),
    ("red with fever: every reason, worst decision", Verdict(format="CP1", color="red"),
     Measurement("ok", 38.5, 0.1), POLICY, Context(trust_stale=True), R.DENY,
     (R.COLOR_RED, R.FEVER, R.TRUST_STALE)),
    ("red, temperature not waited for", Verdict(format="CP1", color="red"),
     Measurement("skipped"), POLICY, Context(), R.DENY, (R.COLOR_RED,)),
    ("a skipped temperature never passes a green pass", GREEN, Measurement("skipped"), POLICY,
     Context(), R.CHECK, (R.TEMPERATURE_MISSING,)),
    ("forged pass ignores temperature", failed(R.BAD_SIGNATURE), Measurement("ok", 39.0, 0.1),
     POLICY, Context(), R.DENY, (R.BAD_SIGNATURE,)),
]


@pytest.mark.parametrize(("name", "verdict", "measurement", "policy", "context", "decision",
                          "reasons"), CASES, ids=[c[0] for c in CASES])
def test_decide(name, verdict, measurement, policy, context, decision, reasons):
    assert decide(verdict, measurement, policy, context, NOW) == Decision(decision, reasons)


def test_every_reason_code_is_covered():
    produced = {r for case in CASES for r in case[6]}
    produced |= {override(Decision(R.DENY, (R.FEVER,)), True, POLICY).reasons[0],
                 override(Decision(R.PASS), False, POLICY).reasons[0]}
    # the card reasons are covered by tests/edge/test_policy_cards.py
    assert produced == set(R.REASONS) - set(R.CARD_REASONS)


def test_judge_pass_ignores_temperature_and_device_state():
    assert judge_pass(GREEN, POLICY, NOW) == Decision(R.PASS)
    assert judge_pass(Verdict(format="CP1", color="red"), POLICY, NOW).decision == R.DENY
    assert judge_pass(failed(R.PASS_EXPIRED), POLICY, NOW).reasons == (R.PASS_EXPIRED,)


def test_override_only_when_policy_allows():
    denied = Decision(R.DENY, (R.FEVER,))
    assert override(denied, True, POLICY) == Decision(R.PASS, (R.OPERATOR_ALLOW,))
    assert override(denied, True, Policy(operator_override=False)) == denied


@pytest.mark.parametrize(("payload", "message"), [
    ({"fever_threshold_c": "hot"}, "fever_threshold_c"),
    ({"allow_colors": ["blue"]}, "allow_colors"),
    ({"visitors": "maybe"}, "visitors"),
    ({"fever_treshold_c": 37.5}, "unknown key"),
])
def test_policy_payload_errors_name_the_key(payload, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_payload(payload)


def test_policy_payload_ignores_bundle_metadata():
    policy = Policy.from_payload({"version": 3, "issued": "x", "next_update": "y",
                                  "require_synced_clock": False, "allow_colors": ["green"]})
    assert policy.require_synced_clock is False
