"""Cards at the controller, on real parts (the demo district's signed passes, a real SQLite
file, the recording gate): taps come as tokens, a tap serves one decision, the lane waits
for a tap that is all a decision lacks, and a card alone passes only where the policy
lets it."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from edge import actions
from edge.cards import CardDesk, Tapped, Taps
from edge.scanner import Scan
from models import cp1
from models.cards import card_token
from models.roster import Resident, Roster
from tests.support.controller import demo_clock, make_controller, step_up

KEY = bytes(range(32))
ALICE = bytes.fromhex("a1" * 16)
ALICE_CARD = card_token(KEY, "mifare", bytes.fromhex("04a1b2c3"))
BOBS_CARD = card_token(KEY, "mifare", bytes.fromhex("04b0b0b0"))
VISITOR_ID = card_token(KEY, "cnid", bytes.fromhex("0123456789abcdef"))


def lane(demo_dir, tmp_path, *, card="residents", require_pass=True, temps=(36.5, 36.6, 36.5),
         card_wait_s=0.0):
    clock = demo_clock()
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock, temps=temps)
    trust = controller.trust
    roster = Roster({ALICE.hex(): Resident("3-201", (ALICE_CARD,)),
                     "b0" * 16: Resident("3-202", (BOBS_CARD,))})
    policy = replace(trust.policy, card=card, require_pass=require_pass,
                     require_synced_clock=False, visitors="register")
    controller.trust = replace(trust, policy=policy, roster=roster)
    controller.cards = CardDesk(Taps(), clock, card_wait_s)
    return controller, store, gate, clock


def pass_of(demo_dir, clock, sub: bytes) -> str:
    key = load_pem_private_key((demo_dir / "demo" / "issuer-key.pem").read_bytes(), None)
    now = int(clock.now())
    return cp1.issue_cp1(key, iss="CN-BJ-110105", color="green", iat=now, exp=now + 120,
                         sub=sub, cti=os.urandom(16))


def tap(controller, clock, token, kind="mifare", ago_s=1.0) -> Tapped:
    tapped = Tapped(token, kind, clock.monotonic() - ago_s)
    controller.taps.add(tapped)
    return tapped


def scan(controller, demo_dir, clock, sub=ALICE):
    return controller.handle_scan(Scan(pass_of(demo_dir, clock, sub), clock.monotonic(), 1.0))


def test_a_resident_who_tapped_their_card_passes_and_the_token_is_recorded(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    tap(controller, clock, ALICE_CARD)
    record = scan(controller, demo_dir, clock)
    assert (record.decision, record.reasons) == ("pass", ())
    row = next(store.records())
    assert (row["card"], row["card_kind"]) == (ALICE_CARD, "mifare")
    assert gate.events       # opened


def test_another_residents_card_is_a_mismatch_and_the_gate_stays_shut(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    tap(controller, clock, BOBS_CARD)
    record = scan(controller, demo_dir, clock)
    assert (record.decision, record.reasons) == ("deny", ("card_mismatch",))
    assert record.card == BOBS_CARD and not gate.events


def test_no_tap_asks_the_guard_after_the_bounded_wait(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path, card_wait_s=0.05)
    record = scan(controller, demo_dir, clock)
    assert (record.decision, record.reasons) == ("check", ("card_missing",))
    assert record.card is None


def test_a_tap_after_the_code_is_awaited(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path, card_wait_s=30.0)
    shown = clock.monotonic()
    tapper = threading.Timer(0.2, lambda: controller.taps.add(
        Tapped(ALICE_CARD, "mifare", shown + 2.0)))
    tapper.start()
    record = scan(controller, demo_dir, clock)
    tapper.join()
    assert (record.decision, record.card) == ("pass", ALICE_CARD)


def test_a_tap_serves_one_decision(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    tap(controller, clock, ALICE_CARD)
    assert scan(controller, demo_dir, clock).decision == "pass"
    clock.advance(2)
    second = scan(controller, demo_dir, clock)      # another pass of hers, the card not again
    assert "card_missing" in second.reasons and second.card is None


def test_a_tap_outside_the_window_does_not_count(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    tap(controller, clock, ALICE_CARD, ago_s=controller.trust.policy.card_window_s + 1)
    assert scan(controller, demo_dir, clock).reasons == ("card_missing",)


def test_visitors_need_no_card_unless_everyone_taps(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    assert scan(controller, demo_dir, clock, os.urandom(16)).reasons == ("visitor",)
    controller, store, gate, clock = lane(demo_dir, tmp_path / "required", card="required")
    tap(controller, clock, VISITOR_ID, kind="cnid")
    record = scan(controller, demo_dir, clock, os.urandom(16))
    assert (record.reasons, record.card, record.card_kind) == (("visitor",), VISITOR_ID, "cnid")


def test_a_tap_alone_waits_for_a_code_when_a_pass_is_required(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    tapped = tap(controller, clock, ALICE_CARD)
    assert controller.handle_tap(tapped) is None and store.count() == 0
    assert scan(controller, demo_dir, clock).card == ALICE_CARD       # it served the code


def test_a_residents_card_alone_passes_when_the_district_says_so(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path, require_pass=False)
    record = controller.handle_tap(tap(controller, clock, ALICE_CARD))
    assert (record.decision, record.subject, record.card) == ("pass", ALICE.hex(), ALICE_CARD)
    assert record.temperature_c is not None and gate.events
    unknown = controller.handle_tap(tap(controller, clock, VISITOR_ID, kind="cnid"))
    assert (unknown.decision, unknown.reasons) == ("deny", ("card_unknown",))


def test_a_card_alone_is_still_screened(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path, require_pass=False,
                                          temps=(38.6, 38.7, 38.6))
    record = controller.handle_tap(tap(controller, clock, ALICE_CARD))
    assert (record.decision, record.reasons) == ("deny", ("fever",))


def test_a_tap_a_guard_waits_for_is_not_decided_alone(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path, require_pass=False)
    with controller.taps.for_guard():
        assert controller.handle_tap(tap(controller, clock, VISITOR_ID, "cnid")) is None
    assert store.count() == 0


def test_a_visitor_registered_by_tap_carries_the_token(demo_dir, tmp_path):
    controller, store, gate, clock = lane(demo_dir, tmp_path)
    check = scan(controller, demo_dir, clock, os.urandom(16))
    step_up(controller.thermal, clock)                  # the next visitor at the sensor
    other = scan(controller, demo_dir, clock, os.urandom(16))
    assert other.reasons == ("visitor",)
    tapped = tap(controller, clock, VISITOR_ID, kind="cnid", ago_s=0)
    action = actions.Registration("g1", check.id, unit="3-201", reason="family", card=tapped)
    record = controller.handle_action(action)
    assert (record.decision, record.card, record.card_kind) == ("pass", VISITOR_ID, "cnid")
    assert "unit=3-201" in record.note and "card=cnid" in record.note
    # the same tap cannot register a second visitor
    again = actions.Registration("g1", other.id, unit="3-201", reason="family", card=tapped)
    assert controller.handle_action(again) is None
    assert again.result.exception().reason == "card_used"
