"""Guard actions through the controller's queue: each a committed record with the guard's
id and note, the gate opened only after commit, and every refusal by name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.actions import ActionError, CheckDone, Override, Registration
from edge.scanner import Scan
from models.policy import Policy
from models.roster import Roster
from tests.support.controller import demo_clock, green_pass, make_controller, step_up


def running(demo_dir, tmp_path, **kwargs):
    clock = demo_clock()
    controller, store, gate = make_controller(demo_dir, tmp_path / "cp.db", clock, **kwargs)
    controller.start()
    return clock, controller, store, gate


def act(controller, action):
    assert controller.submit(action)
    return action.result.result(timeout=10)


def refused(controller, action) -> str:
    assert controller.submit(action)
    with pytest.raises(ActionError) as error:
        action.result.result(timeout=10)
    return error.value.reason


def test_a_check_is_closed_once_by_the_guard_and_the_gate_opens_after_commit(
        demo_dir, tmp_path):
    clock, controller, store, gate = running(demo_dir, tmp_path, temps=())
    try:
        check = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1))
        assert (check.decision, check.reasons) == ("check", ("temperature_missing",))
        openings = []
        gate.open = lambda pulse_s=None: openings.append(store.count())
        done = act(controller, CheckDone("g01", check.id, allow=True, reason="remeasured"))
        assert (done.decision, done.reasons, done.operator) == ("pass", ("operator_allow",), "g01")
        assert done.note == f"check {check.id} done: remeasured"
        assert done.subject == check.subject and done.seq == check.seq + 1
        assert openings == [2]              # opened once the guard's record was stored
        assert refused(controller, CheckDone("g01", check.id, allow=True)) == \
            "not_an_open_check"
        assert [r["operator"] for r in store.records()] == [None, "g01"]
    finally:
        controller.stop()
        store.close()


def test_a_registered_visitor_passes_with_the_registration_in_the_note(demo_dir, tmp_path):
    clock, controller, store, gate = running(demo_dir, tmp_path)
    controller.trust = replace(controller.trust, roster=Roster.from_payload(
        {"subjects": [{"sub": "ab" * 16}]}))
    try:
        visit = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1))
        assert (visit.decision, visit.reasons) == ("check", ("visitor",))
        for bad, reason in ((Registration("g01", visit.id, unit="3-2-401", reason="party"),
                             "bad_reason"),
                            (Registration("g01", visit.id, unit="张三", reason="family"),
                             "bad_unit"),
                            (Registration("g01", visit.id, unit="3-2-401", reason="family",
                                          phone_last4="13800138000"), "bad_phone_digits"),
                            (Registration("g01", "no-such-id", unit="3-2-401"),
                             "unknown_decision")):
            assert refused(controller, bad) == reason
        passed = act(controller, Registration("g01", visit.id, unit="3-2-401",
                                              reason="family", phone_last4="1234"))
        assert (passed.decision, passed.reasons, passed.operator) == ("pass", (), "g01")
        assert passed.note == f"visitor of {visit.id}: unit=3-2-401 reason=family phone=*1234"
        assert gate.events and store.count() == 2
    finally:
        controller.stop()
        store.close()


def test_overrides_only_where_the_policy_allows_them(demo_dir, tmp_path):
    clock, controller, store, gate = running(demo_dir, tmp_path)
    try:
        red = controller.handle_scan(Scan(green_pass(demo_dir, clock, "red"),
                                          clock.monotonic(), 1))
        step_up(controller.thermal, clock)
        other = controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1))
        assert refused(controller, Registration("g01", red.id, unit="1-1")) == \
            "not_an_open_check"
        denied = act(controller, Override("g01", other.id, allow=False, reason="other"))
        assert (denied.decision, denied.reasons) == ("deny", ("operator_deny",))
        controller.trust = replace(controller.trust,
                                   policy=replace(Policy(), operator_override=False))
        assert refused(controller, Override("g01", red.id, allow=True,
                                            reason="known_resident")) == "override_not_allowed"
        assert store.count() == 3
    finally:
        controller.stop()
        store.close()
