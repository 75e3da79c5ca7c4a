"""The gate's decision as a pure function of what is known at the moment of a scan.

`decide()` reads nothing and writes nothing: the verifier's verdict, the screening
measurement, the policy and the device context go in, a decision with reason codes comes
out. Findings are collected from every rule that applies; the decision is the most severe
of them (deny > check > pass), so the guard sees every reason at once.
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
class Decision:
    decision: str
    reasons: tuple[str, ...] = ()


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


def _combine(findings: list[tuple[str, str]]) -> Decision:
    if not findings:
        return Decision(R.PASS)
    worst = max((decision for decision, _ in findings), key=_SEVERITY.__getitem__)
    return Decision(worst, tuple(reason for _, reason in findings))


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


def decide(verdict: Verdict, measurement: Measurement, policy: Policy, context: Context,
           now: float) -> Decision:
    """Pass, deny or check for one presentation of a pass at the gate."""
    failed = _verification(verdict)
    if failed:
        return failed
    if context.already_passed:
        return Decision(R.DENY, (R.REPLAYED,))
    findings = _health(verdict, policy, now)
    if not (measurement.state == "skipped" and _refused(findings)):
        findings += _temperature(measurement, policy)   # "skipped" alone is "missing"
    findings += _visitor(context, policy)
    findings += _device(context, policy)
    return _combine(findings)


def override(decision: Decision, allow: bool, policy: Policy) -> Decision:
    """A guard's manual override, when the policy permits one."""
    if not policy.operator_override:
        return decision
    return Decision(R.PASS, (R.OPERATOR_ALLOW,)) if allow else Decision(R.DENY, (R.OPERATOR_DENY,))
