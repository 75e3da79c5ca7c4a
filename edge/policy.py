"""The gate's decision as a pure function of what is known at the moment of a scan.

`decide()` reads nothing and writes nothing: the verifier's verdict, the screening
measurement, the policy and the device context go in, a decision with reason codes comes
out. Findings are collected from every rule that applies; the decision is the most severe
of them (deny > check > pass), so the guard sees every reason at once.

Cards (PROTOCOL.md section 9) come in as tokens, never numbers: the controller gives the
taps seen within `card_window_s` of the code and the tokens the roster binds to the
pass's subject; the decision names the tap whose token the record keeps. `judge_card()`
judges a tap with no pass, for a policy with `require_pass = false`.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import reasons as R
from models.passes import Verdict
from models.policy import Policy

_SEVERITY = {R.PASS: 0, R.CHECK: 1, R.DENY: 2}
_COLOR_REASONS = {"yellow": R.COLOR_YELLOW, "red": R.COLOR_RED}
# Verification failures the guard can resolve by looking (the code could not be read).
_CHECK_ON_FAILURE = {R.UNREADABLE}


@dataclass(frozen=True)
class CardSeen:
    """A tap as the policy sees it: the token (the raw number never gets this far)."""

    token: str                  # lowercase hex, PROTOCOL.md section 9
    kind: str                   # "mifare" / "cnid" / "hid"
    holder: str | None = None   # the resident's subject the roster binds it to; None: none


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: tuple[str, ...] = ()
    card: CardSeen | None = None    # the tap to record (`card`, `card_kind`), if any


# An estimate older than this describes someone who may have left: never decide on it.
MAX_MEASUREMENT_AGE_S = 1.0


@dataclass(frozen=True)
class Measurement:
    """A screening temperature estimate (not a clinical reading) as the thermal side offers
    it to the controller. Only state "ok" carries a temperature; every other state
    ("retry", "unseparated", "left", "out_of_range", "warming_up", "missing",
    "sensor_fault", "skipped") says why there is none, and no normal value is ever put in
    its place. "skipped": none was waited for because the pass is refused on its own; it
    adds no reason then, and counts as missing anywhere else."""

    state: str
    temperature_c: float | None = None
    age_s: float | None = None
    remeasured: bool = False        # the estimate was near the threshold: two windows taken
    fever: bool | None = None       # the screener's verdict (with hysteresis); None: compare


@dataclass(frozen=True)
class Context:
    """What the device knows about itself and this pass when it decides."""

    clock_synced: bool = True
    trust_stale: bool = False
    already_passed: bool = False    # this cti produced a pass here and is still valid
    on_roster: bool | None = None   # None: no roster installed
    # Taps seen within card_window_s of the code (before or after), nearest first; a tap
    # that served one decision is not offered to the next.
    taps: tuple[CardSeen, ...] = ()
    cards: tuple[str, ...] = ()     # tokens the roster binds to the pass's subject


def _combine(findings: list[tuple[str, str]], card: CardSeen | None = None) -> Decision:
    if not findings:
        return Decision(R.PASS, card=card)
    worst = max((decision for decision, _ in findings), key=_SEVERITY.__getitem__)
    return Decision(worst, tuple(reason for _, reason in findings), card)


def _verification(verdict: Verdict) -> Decision | None:
    if verdict.valid:
        return None
    decision = R.CHECK if set(verdict.reasons) <= _CHECK_ON_FAILURE else R.DENY
    return Decision(decision, verdict.reasons)


def _health(verdict: Verdict, policy: Policy, now: float) -> list[tuple[str, str]]:
    findings = []
    if verdict.color not in policy.allow_colors:
        # The code names the colour refused; the policy always allows green (models/policy).
        findings.append((R.DENY, _COLOR_REASONS.get(verdict.color, R.MALFORMED)))
    if policy.max_test_age_h is not None:
        if verdict.tested_at is None:
            findings.append((R.DENY, R.TEST_MISSING))
        elif now - verdict.tested_at > policy.max_test_age_h * 3600:
            findings.append((R.DENY, R.TEST_TOO_OLD))
    return findings


def judge_pass(verdict: Verdict, policy: Policy, now: float) -> Decision:
    """The pass alone: authenticity, colour and test age; no temperature, no device state."""
    failed = _verification(verdict)
    return failed or _combine(_health(verdict, policy, now))


def _temperature(measurement: Measurement, policy: Policy) -> list[tuple[str, str]]:
    if measurement.state == "sensor_fault":
        return [(R.CHECK, R.SENSOR_FAULT)]
    if measurement.state != "ok" or measurement.temperature_c is None or _stale(measurement):
        return [(R.CHECK, R.TEMPERATURE_MISSING)]
    near = abs(measurement.temperature_c - policy.fever_threshold_c) <= policy.remeasure_band_c
    if near and not measurement.remeasured:
        return [(R.CHECK, R.TEMPERATURE_MISSING)]   # one window this close decides nothing
    fever = measurement.fever
    if fever is None:
        fever = measurement.temperature_c >= policy.fever_threshold_c
    return [(R.DENY, R.FEVER)] if fever else []


def _refused(findings: list[tuple[str, str]]) -> bool:
    return any(decision == R.DENY for decision, _ in findings)


def _stale(measurement: Measurement) -> bool:
    return measurement.age_s is None or measurement.age_s > MAX_MEASUREMENT_AGE_S


def _visitor(context: Context, policy: Policy) -> list[tuple[str, str]]:
    if context.on_roster is not False or policy.visitors == "allow":
        return []
    return [(R.DENY if policy.visitors == "deny" else R.CHECK, R.VISITOR)]


def _device(context: Context, policy: Policy) -> list[tuple[str, str]]:
    findings = []
    if context.trust_stale:
        findings.append((R.CHECK, R.TRUST_STALE))
    if not context.clock_synced and policy.require_synced_clock:
        findings.append((R.CHECK, R.CLOCK_UNSYNCED))
    return findings


def _card(context: Context, policy: Policy) -> tuple[list[tuple[str, str]], CardSeen | None]:
    """The card rule's findings and the tap to record.

    A resident with bound cards must tap one of them, in either mode; any other card is a
    mismatch. With "required", everyone else (a visitor, a resident without cards, anyone
    when no roster is installed) must tap a card bound to nobody, which is recorded; a
    card bound to a resident cannot be theirs. No tap at all is card_missing."""
    if policy.card == "off" or (policy.card == "residents" and not context.cards):
        return [], None
    if context.cards:
        fits = [tap for tap in context.taps if tap.token in context.cards]
    else:
        fits = [tap for tap in context.taps if tap.holder is None]
    if fits:
        return [], fits[0]
    if context.taps:
        return [(R.DENY, R.CARD_MISMATCH)], context.taps[0]
    return [(R.CHECK, R.CARD_MISSING)], None


def _judged(health: list[tuple[str, str]], card: tuple[list[tuple[str, str]], CardSeen | None],
            measurement: Measurement, policy: Policy, context: Context) -> Decision:
    """Every finding of an authentic presentation, in the order the guard reads them."""
    card_findings, tap = card
    findings = list(health)
    if not (measurement.state == "skipped" and _refused(health + card_findings)):
        findings += _temperature(measurement, policy)   # "skipped" alone is "missing"
    findings += _visitor(context, policy)
    findings += card_findings
    findings += _device(context, policy)
    return _combine(findings, tap)


def decide(verdict: Verdict, measurement: Measurement, policy: Policy, context: Context,
           now: float) -> Decision:
    """Pass, deny or check for one presentation of a pass at the gate."""
    failed = _verification(verdict)
    if failed:
        return failed
    if context.already_passed:
        return Decision(R.DENY, (R.REPLAYED,))
    return _judged(_health(verdict, policy, now), _card(context, policy), measurement,
                   policy, context)


def refused_alone(verdict: Verdict, policy: Policy, context: Context, now: float) -> bool:
    """A presentation refused whatever the temperature: forged, expired, red, replayed, or
    with another's card; the controller need not wait for a measurement then."""
    if context.already_passed or judge_pass(verdict, policy, now).decision == R.DENY:
        return True
    return _refused(_card(context, policy)[0])


def judge_card(tap: CardSeen, measurement: Measurement, policy: Policy, context: Context,
               now: float) -> Decision | None:
    """A tap with no pass shown, under `require_pass = false`: a card bound to a resident is
    judged like a green pass of that resident (a test the policy requires is missing,
    temperature and device state apply), a card on no roster is card_unknown. None when
    the policy wants a pass: the tap then only waits for a code. Of the context only the
    device state counts: the tap itself says who is there."""
    if policy.require_pass or policy.card == "off":
        return None
    if tap.holder is None:
        unknown = [(R.DENY, R.CARD_UNKNOWN)]
        return _judged([], (unknown, tap), measurement, policy, Context(
            clock_synced=context.clock_synced, trust_stale=context.trust_stale))
    green = Verdict(color="green", subject=tap.holder)
    resident = Context(clock_synced=context.clock_synced, trust_stale=context.trust_stale,
                       on_roster=True)
    return _judged(_health(green, policy, now), ([], tap), measurement, policy, resident)


def override(decision: Decision, allow: bool, policy: Policy) -> Decision:
    """A guard's manual override, when the policy permits one."""
    if not policy.operator_override:
        return decision
    return Decision(R.PASS, (R.OPERATOR_ALLOW,)) if allow else Decision(R.DENY, (R.OPERATOR_DENY,))
