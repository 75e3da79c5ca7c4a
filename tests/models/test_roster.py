"""The resident roster payload: who lives here, by subject, and every bad entry by name."""

from __future__ import annotations

import pytest

from models.roster import Roster, RosterError


def test_residents_are_found_by_subject_in_any_case():
    roster = Roster.from_payload({"subjects": [
        {"sub": "AB" * 16, "unit": "3-2-401", "cards": ["0F" * 16]},
        {"sub": "cd" * 8}]})
    assert len(roster) == 2
    assert roster.has("ab" * 16) and roster.has("CD" * 8) and not roster.has("ef" * 16)
    assert roster.residents["ab" * 16].cards == ("0f" * 16,)
    assert not roster.has(None)


@pytest.mark.parametrize(("payload", "message"), [
    ({}, "'subjects' must be a list"),
    ({"subjects": ["ab"]}, r"subjects\[0\]: must be an object"),
    ({"subjects": [{"sub": "xyz"}]}, r"subjects\[0\].sub: must be hex"),
    ({"subjects": [{"sub": "a"}]}, r"subjects\[0\].sub: must be hex"),
    ({"subjects": [{"sub": "ab", "unit": ""}]}, r"subjects\[0\].unit"),
    ({"subjects": [{"sub": "ab", "unit": 3}]}, r"subjects\[0\].unit"),
    ({"subjects": [{"sub": "ab", "cards": ["12"]}]}, r"subjects\[0\].cards"),
    ({"subjects": [{"sub": "ab", "cards": "0f" * 16}]}, r"subjects\[0\].cards"),
    ({"subjects": [{"sub": "ab"}, {"sub": "AB"}]}, r"subjects\[1\]: sub ab is listed twice"),
])
def test_a_bad_entry_is_refused_by_name(payload, message):
    with pytest.raises(RosterError, match=message):
        Roster.from_payload(payload)
