"""Guards sign in with an id and a PIN kept only as a salted hash; wrong PINs are refused
and rate-limited; an action needs the session and its CSRF token."""

from __future__ import annotations

import pytest

from edge.guards import (
    Guards,
    GuardsError,
    SignInRefused,
    hash_pin,
    pin_matches,
    read_guards,
)
from tests.support.clock import FakeClock

HASH = hash_pin("246810")


def test_a_pin_is_stored_salted_and_only_its_own_pin_matches():
    again = hash_pin("246810")
    assert again != HASH and "246810" not in HASH      # a new salt each time
    assert pin_matches(HASH, "246810") and pin_matches(again, "246810")
    assert not pin_matches(HASH, "246811") and not pin_matches("scrypt$garbage", "246810")
    with pytest.raises(ValueError, match="4 to 12 digits"):
        hash_pin("12a4")


def test_wrong_pins_are_refused_then_the_id_is_locked_for_longer_each_time():
    clock = FakeClock()
    guards = Guards({"g01": HASH}, clock)
    for _ in range(2):
        with pytest.raises(SignInRefused) as wrong:
            guards.sign_in("g01", "000000")
        assert (wrong.value.reason, wrong.value.retry_in_s) == ("wrong", 0.0)
    with pytest.raises(SignInRefused) as third:
        guards.sign_in("g01", "000000")
    assert (third.value.reason, third.value.retry_in_s) == ("wrong", 30.0)
    with pytest.raises(SignInRefused) as locked:
        guards.sign_in("g01", "246810")              # even the right PIN, while locked
    assert locked.value.reason == "locked"
    clock.advance(31)
    with pytest.raises(SignInRefused) as fourth:
        guards.sign_in("g01", "111111")
    assert fourth.value.retry_in_s == 60.0             # doubling
    clock.advance(61)
    assert guards.sign_in("g01", "246810").guard == "g01"
    with pytest.raises(SignInRefused) as unknown:
        guards.sign_in("nobody", "246810")
    assert unknown.value.reason == "wrong"             # same answer as a wrong PIN


def test_a_session_needs_its_csrf_token_and_ends_when_idle():
    clock = FakeClock()
    guards = Guards({"g01": HASH}, clock)
    session = guards.sign_in("g01", "246810")
    assert guards.authorised(session.token, session.csrf) is session
    assert guards.authorised(session.token, "forged") is None
    assert guards.authorised(session.token, None) is None
    assert guards.authorised("stolen-guess", session.csrf) is None
    clock.advance(29 * 60)
    assert guards.session(session.token) is session    # used: the idle clock restarts
    clock.advance(31 * 60)
    assert guards.session(session.token) is None
    again = guards.sign_in("g01", "246810")
    guards.sign_out(again.token)
    assert guards.session(again.token) is None


def test_the_guards_file_names_a_bad_line(tmp_path):
    path = tmp_path / "guards"
    path.write_text(f"# gate east-1\ng01 {HASH}\n\ng02 {hash_pin('1357')}\n")
    assert sorted(read_guards(path)) == ["g01", "g02"]
    path.write_text(f"g01 {HASH}\ng01 {HASH}\n")
    with pytest.raises(GuardsError, match="line 2: guard g01 listed twice"):
        read_guards(path)
    path.write_text("g01 1234\n")
    with pytest.raises(GuardsError, match="line 1: expected `ID scrypt"):
        read_guards(path)
    with pytest.raises(GuardsError, match="cannot read"):
        read_guards(tmp_path / "missing")
