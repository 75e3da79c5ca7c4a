"""The card keys of a policy payload (PROTOCOL.md section 3): defaults, accepted values, and
every bad value refused with the key named."""

from __future__ import annotations

import pytest

from models.policy import Policy, PolicyError


def test_defaults_leave_cards_off_and_a_pass_required():
    policy = Policy.from_payload({"version": 1})
    assert (policy.card, policy.card_window_s, policy.require_pass) == ("off", 10, True)


@pytest.mark.parametrize("payload", [
    {"card": "residents"},
    {"card": "required", "card_window_s": 30},
    {"card": "residents", "require_pass": False},
    {"card": "required", "require_pass": False, "card_window_s": 2.5},
    {"card": "off", "card_window_s": 1},
])
def test_card_keys_accepted(payload):
    policy = Policy.from_payload(payload)
    for key, value in payload.items():
        assert getattr(policy, key) == value


@pytest.mark.parametrize(("payload", "message"), [
    ({"card": "always"}, r"card = 'always'; allowed: off, residents, required"),
    ({"card": None}, r"card = None; allowed"),
    ({"card": ["residents"]}, r"card = \['residents'\]; allowed"),
    ({"card_window_s": 0}, r"card_window_s = 0; allowed: a number from 1 to 120"),
    ({"card_window_s": 600}, r"card_window_s = 600"),
    ({"card_window_s": "10"}, r"card_window_s = '10'"),
    ({"card_window_s": True}, r"card_window_s = True"),
    ({"card_window_s": float("nan")}, r"card_window_s = nan"),
    ({"require_pass": "no"}, r"require_pass must be true or false"),
    ({"require_pass": 0}, r"require_pass must be true or false"),
    ({"require_pass": False}, r"require_pass = false needs card = \"residents\" or "
                              r"\"required\""),
    ({"card": "off", "require_pass": False}, r"require_pass = false needs card"),
    ({"cards": "residents"}, r"unknown key\(s\) cards"),
])
def test_bad_card_values_are_refused_by_name(payload, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_payload(payload)
