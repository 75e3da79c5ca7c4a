"""The card rules (PROTOCOL.md section 9) as tables: every `card` mode against every kind
of presenter and tap, how card reasons combine with the others, and a tap judged alone
under `require_pass = false`. Contexts are built from a real roster payload, as the
controller will build them."""

from __future__ import annotations

import pytest

from edge.policy import (
    CardSeen,
    Context,
    Decision,
    Measurement,
    decide,
    judge_card,
    refused_alone,
)
from models import reasons as R
from models.passes import Verdict
from models.policy import Policy
from models.roster import Roster, RosterError

NOW = 1_790_000_000
RESIDENT, BARE, NEIGHBOUR, VISITOR = "a1" * 16, "b2" * 16, "c3" * 16, "d4" * 16
OWN, SPARE, NEIGHBOURS, FREE = "01" * 16, "02" * 16, "03" * 16, "0f" * 16   # card tokens
ROSTER = Roster.from_payload({"subjects": [
    {"sub": RESIDENT, "unit": "3-2-401", "cards": [OWN, SPARE.upper()]},
    {"sub": BARE, "unit": "3-2-402"},                   # a resident without cards
    {"sub": NEIGHBOUR, "cards": [NEIGHBOURS]}]})
OK = Measurement("ok", 36.5, 0.1)


def green(subject: str) -> Verdict:
    return Verdict(format="CP1", color="green", iat=NOW - 10, exp=NOW + 100, cti="aa",
                   subject=subject)


def tap(token: str, kind: str = "mifare", roster: Roster | None = ROSTER) -> CardSeen:
    return CardSeen(token, kind, roster.holder(token) if roster else None)


def context(subject: str, *tokens: str, roster: Roster | None = ROSTER) -> Context:
    """What the controller knows at a scan: the roster's answer and the taps, nearest first."""
    return Context(on_roster=roster.has(subject) if roster else None,
                   cards=roster.cards_of(subject) if roster else (),
                   taps=tuple(tap(t, roster=roster) for t in tokens))


# Who presents, and what was tapped within the window.
PRESENTERS = {
    "resident taps a bound card": (RESIDENT, (OWN,)),
    "resident taps another resident's card": (RESIDENT, (NEIGHBOURS,)),
    "resident taps a card bound to nobody": (RESIDENT, (FREE,)),
    "resident taps nothing": (RESIDENT, ()),
    "resident without cards taps nothing": (BARE, ()),
    "resident without cards taps a free card": (BARE, (FREE,)),
    "visitor taps nothing": (VISITOR, ()),
    "visitor taps an ID card": (VISITOR, (FREE,)),
    "visitor taps a resident's card": (VISITOR, (OWN,)),
}
# mode -> presenter -> (decision, reasons, token recorded)
EXPECTED = {
    "off": {name: (R.PASS, (), None) for name in PRESENTERS},
    "residents": {
        "resident taps a bound card": (R.PASS, (), OWN),
        "resident taps another resident's card": (R.DENY, (R.CARD_MISMATCH,), NEIGHBOURS),
        "resident taps a card bound to nobody": (R.DENY, (R.CARD_MISMATCH,), FREE),
        "resident taps nothing": (R.CHECK, (R.CARD_MISSING,), None),
        "resident without cards taps nothing": (R.PASS, (), None),
        "resident without cards taps a free card": (R.PASS, (), None),
        "visitor taps nothing": (R.PASS, (), None),
        "visitor taps an ID card": (R.PASS, (), None),      # visitors need no card
        "visitor taps a resident's card": (R.PASS, (), None),
    },
    "required": {
        "resident taps a bound card": (R.PASS, (), OWN),
        "resident taps another resident's card": (R.DENY, (R.CARD_MISMATCH,), NEIGHBOURS),
        "resident taps a card bound to nobody": (R.DENY, (R.CARD_MISMATCH,), FREE),
        "resident taps nothing": (R.CHECK, (R.CARD_MISSING,), None),
        "resident without cards taps nothing": (R.CHECK, (R.CARD_MISSING,), None),
        "resident without cards taps a free card": (R.PASS, (), FREE),
        "visitor taps nothing": (R.CHECK, (R.CARD_MISSING,), None),
        "visitor taps an ID card": (R.PASS, (), FREE),      # the visitor's token is kept
        "visitor taps a resident's card": (R.DENY, (R.CARD_MISMATCH,), OWN),
    },
}
TABLE = [(mode, name, *PRESENTERS[name], *EXPECTED[mode][name])
         for mode in EXPECTED for name in PRESENTERS]


@pytest.mark.parametrize(("mode", "name", "subject", "tokens", "decision", "reasons", "kept"),
                         TABLE, ids=[f"{row[0]}: {row[1]}" for row in TABLE])
def test_card_modes(mode, name, subject, tokens, decision, reasons, kept):
    policy = Policy(card=mode, visitors="allow")
    result = decide(green(subject), OK, policy, context(subject, *tokens), NOW)
    assert (result.decision, result.reasons) == (decision, reasons)
    assert (result.card.token if result.card else None) == kept


@pytest.mark.parametrize(("mode", "tokens", "decision", "reasons", "kept"), [
    ("off", (FREE,), R.PASS, (), None),
    ("residents", (), R.PASS, (), None),        # nobody has bound cards without a roster
    ("residents", (FREE,), R.PASS, (), None),
    ("required", (), R.CHECK, (R.CARD_MISSING,), None),
    ("required", (FREE,), R.PASS, (), FREE),
])
def test_no_roster_installed(mode, tokens, decision, reasons, kept):
    result = decide(green(VISITOR), OK, Policy(card=mode), context(VISITOR, *tokens, roster=None),
                    NOW)
    assert (result.decision, result.reasons) == (decision, reasons)
    assert (result.card.token if result.card else None) == kept


def test_the_kind_of_the_card_kept_is_recorded_with_it():
    result = decide(green(VISITOR), OK, Policy(card="required", visitors="allow"),
                    Context(on_roster=False, taps=(CardSeen(FREE, "cnid"),)), NOW)
    assert result == Decision(R.PASS, (), CardSeen(FREE, "cnid"))


@pytest.mark.parametrize(("mode", "subject", "tokens", "kept"), [
    ("residents", RESIDENT, (NEIGHBOURS, SPARE), SPARE),   # the own card among others
    ("required", VISITOR, (OWN, FREE), FREE),              # the visitor's, not a resident's
    ("required", VISITOR, (FREE, "0e" * 16), FREE),        # two free cards: the nearest
])
def test_several_taps_in_the_window_the_fitting_one_counts(mode, subject, tokens, kept):
    result = decide(green(subject), OK, Policy(card=mode, visitors="allow"),
                    context(subject, *tokens), NOW)
    assert result.decision == R.PASS and result.card.token == kept


def test_of_several_wrong_cards_the_nearest_is_recorded():
    result = decide(green(RESIDENT), OK, Policy(card="residents"),
                    context(RESIDENT, NEIGHBOURS, FREE), NOW)
    assert result.reasons == (R.CARD_MISMATCH,) and result.card.token == NEIGHBOURS


COMBINED = [
    # name, verdict, measurement, policy, context, decision, reasons
    ("mismatch and fever: both, deny", green(RESIDENT), Measurement("ok", 38.4, 0.1),
     Policy(card="residents"), context(RESIDENT, NEIGHBOURS), R.DENY,
     (R.FEVER, R.CARD_MISMATCH)),
    ("mismatch needs no temperature", green(RESIDENT), Measurement("skipped"),
     Policy(card="residents"), context(RESIDENT, NEIGHBOURS), R.DENY, (R.CARD_MISMATCH,)),
    ("card missing does not excuse a skipped temperature", green(RESIDENT),
     Measurement("skipped"), Policy(card="residents"), context(RESIDENT), R.CHECK,
     (R.TEMPERATURE_MISSING, R.CARD_MISSING)),
    ("visitor to register with no card: both, check", green(VISITOR), OK,
     Policy(card="required"), context(VISITOR), R.CHECK, (R.VISITOR, R.CARD_MISSING)),
    ("refused visitor who tapped: visitor deny, token kept", green(VISITOR), OK,
     Policy(card="required", visitors="deny"), context(VISITOR, FREE), R.DENY, (R.VISITOR,)),
    ("red pass with a bound card: colour still refuses", Verdict(
        format="CP1", color="red", subject=RESIDENT), Measurement("skipped"),
     Policy(card="residents"), context(RESIDENT, OWN), R.DENY, (R.COLOR_RED,)),
    ("card missing, stale trust, unsynced clock", green(RESIDENT), OK,
     Policy(card="residents"), Context(on_roster=True, cards=(OWN,), trust_stale=True,
                                       clock_synced=False), R.CHECK,
     (R.CARD_MISSING, R.TRUST_STALE, R.CLOCK_UNSYNCED)),
    ("forged pass: the card is not looked at", Verdict(reasons=(R.BAD_SIGNATURE,),
                                                        format="CP1"), OK,
     Policy(card="required"), context(VISITOR, OWN), R.DENY, (R.BAD_SIGNATURE,)),
    ("replayed pass with the right card", green(RESIDENT), OK, Policy(card="residents"),
     Context(on_roster=True, cards=(OWN,), taps=(tap(OWN),), already_passed=True), R.DENY,
     (R.REPLAYED,)),
]


@pytest.mark.parametrize(("name", "verdict", "measurement", "policy", "ctx", "decision",
                          "reasons"), COMBINED, ids=[c[0] for c in COMBINED])
def test_card_reasons_combine_with_the_others(name, verdict, measurement, policy, ctx,
                                               decision, reasons):
    result = decide(verdict, measurement, policy, ctx, NOW)
    assert (result.decision, result.reasons) == (decision, reasons)


def test_a_refused_decision_still_names_the_card_tapped():
    result = decide(green(VISITOR), OK, Policy(card="required", visitors="deny"),
                    context(VISITOR, FREE), NOW)
    assert result.card == CardSeen(FREE, "mifare")


CARD_ONLY = Policy(card="residents", require_pass=False)
ALONE = [
    # name, tap, measurement, policy, context, decision, reasons
    ("bound card passes", tap(OWN), OK, CARD_ONLY, Context(), R.PASS, ()),
    ("bound card under required", tap(NEIGHBOURS, "mifare"), OK,
     Policy(card="required", require_pass=False), Context(), R.PASS, ()),
    ("card on no roster", tap(FREE, "cnid"), OK, CARD_ONLY, Context(), R.DENY,
     (R.CARD_UNKNOWN,)),
    ("unknown card needs no temperature", tap(FREE), Measurement("skipped"), CARD_ONLY,
     Context(), R.DENY, (R.CARD_UNKNOWN,)),
    ("unknown card with a fever", tap(FREE), Measurement("ok", 38.5, 0.1), CARD_ONLY,
     Context(), R.DENY, (R.FEVER, R.CARD_UNKNOWN)),
    ("no roster: every card is unknown", tap(OWN, roster=None), OK, CARD_ONLY, Context(),
     R.DENY, (R.CARD_UNKNOWN,)),
    ("bound card with a fever", tap(OWN), Measurement("ok", 38.2, 0.1), CARD_ONLY, Context(),
     R.DENY, (R.FEVER,)),
    ("bound card, fever re-measured at the threshold", tap(OWN),
     Measurement("ok", 37.3, 0.1, remeasured=True), CARD_ONLY, Context(), R.DENY, (R.FEVER,)),
    ("bound card, no temperature", tap(OWN), Measurement("missing"), CARD_ONLY, Context(),
     R.CHECK, (R.TEMPERATURE_MISSING,)),
    ("bound card, temperature skipped", tap(OWN), Measurement("skipped"), CARD_ONLY,
     Context(), R.CHECK, (R.TEMPERATURE_MISSING,)),
    ("bound card, sensor fault", tap(OWN), Measurement("sensor_fault"), CARD_ONLY, Context(),
     R.CHECK, (R.SENSOR_FAULT,)),
    ("bound card, the policy wants a test: a card carries none", tap(OWN), OK,
     Policy(card="residents", require_pass=False, max_test_age_h=48), Context(), R.DENY,
     (R.TEST_MISSING,)),
    ("bound card, stale trust and unsynced clock", tap(OWN), OK, CARD_ONLY,
     Context(trust_stale=True, clock_synced=False), R.CHECK,
     (R.TRUST_STALE, R.CLOCK_UNSYNCED)),
    ("bound card, a visitor context from the scan side is ignored", tap(OWN), OK,
     Policy(card="residents", require_pass=False, visitors="deny"), Context(on_roster=False),
     R.PASS, ()),
]


@pytest.mark.parametrize(("name", "seen", "measurement", "policy", "ctx", "decision",
                          "reasons"), ALONE, ids=[c[0] for c in ALONE])
def test_a_card_alone(name, seen, measurement, policy, ctx, decision, reasons):
    result = judge_card(seen, measurement, policy, ctx, NOW)
    assert result == Decision(decision, reasons, seen)   # the tap is always recorded


@pytest.mark.parametrize("policy", [Policy(), Policy(card="residents"),
                                    Policy(card="required"),
                                    Policy(card="off", require_pass=False)],
                         ids=["default", "residents", "required", "off unchecked"])
def test_a_card_alone_decides_nothing_while_a_pass_is_required(policy):
    assert judge_card(tap(OWN), OK, policy, Context(), NOW) is None


def test_refused_alone_spares_the_wait_for_a_temperature():
    residents = Policy(card="residents")
    assert refused_alone(green(RESIDENT), residents, context(RESIDENT, NEIGHBOURS), NOW)
    assert not refused_alone(green(RESIDENT), residents, context(RESIDENT, OWN), NOW)
    assert not refused_alone(green(RESIDENT), residents, context(RESIDENT), NOW)   # check
    assert refused_alone(Verdict(format="CP1", color="red"), residents, Context(), NOW)
    assert refused_alone(green(RESIDENT), residents,
                         Context(already_passed=True), NOW)


def test_every_card_reason_is_produced():
    produced = {r for row in TABLE for r in row[5]} | {r for row in ALONE for r in row[6]}
    assert set(R.CARD_REASONS) <= produced


def test_roster_lookups_by_token_and_subject():
    assert ROSTER.holder(SPARE) == RESIDENT and ROSTER.holder(SPARE.upper()) == RESIDENT
    assert ROSTER.holder(FREE) is None
    assert ROSTER.cards_of(RESIDENT.upper()) == (OWN, SPARE)
    assert ROSTER.cards_of(BARE) == () and ROSTER.cards_of(VISITOR) == ()
    assert ROSTER.cards_of(None) == ()


def test_a_card_bound_to_two_residents_is_refused_by_name():
    with pytest.raises(RosterError, match=rf"subjects\[1\].cards: card {OWN} is bound to "
                                          rf"sub {RESIDENT} too"):
        Roster.from_payload({"subjects": [{"sub": RESIDENT, "cards": [OWN]},
                                          {"sub": BARE, "cards": [OWN.upper()]}]})
