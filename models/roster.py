"""The resident roster (PROTOCOL.md section 3, kind "roster"): who lives here, by
pseudonymous subject only, with the tokens of the cards bound to each resident.

A pass whose subject is not on an installed roster is a visitor (policy `visitors`).
Subjects and tokens are compared as lowercase hex, as the verifier reports subjects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_RESIDENTS = 200_000     # a large community; the bundle itself is bounded at 8 MiB
MAX_UNIT_CHARS = 64
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){1,64}")
_TOKEN = re.compile(r"[0-9a-fA-F]{32}")     # first 16 bytes of an HMAC-SHA256 (section 9)


class RosterError(ValueError):
    """A roster payload that names a bad entry."""


@dataclass(frozen=True)
class Resident:
    unit: str | None
    cards: tuple[str, ...] = ()


@dataclass(frozen=True)
class Roster:
    residents: dict[str, Resident]      # subject (lowercase hex) -> resident
    holders: dict[str, str] = field(default_factory=dict)  # card token -> subject

    def __post_init__(self) -> None:
        if not self.holders:    # one index, made once: a tap is looked up at every scan
            index = {card: sub for sub, resident in self.residents.items()
                     for card in resident.cards}
            object.__setattr__(self, "holders", index)

    @classmethod
    def from_payload(cls, payload: dict) -> Roster:
        subjects = payload.get("subjects")
        if not isinstance(subjects, list):
            raise RosterError("'subjects' must be a list")
        if len(subjects) > MAX_RESIDENTS:
            raise RosterError(f"'subjects': {len(subjects)} entries, at most {MAX_RESIDENTS}")
        residents: dict[str, Resident] = {}
        holders: dict[str, str] = {}
        for index, entry in enumerate(subjects):
            sub, resident = _resident(entry, index)
            if sub in residents:
                raise RosterError(f"subjects[{index}]: sub {sub} is listed twice")
            for card in resident.cards:
                # A card bound to two residents would pass either one's pass.
                if holders.setdefault(card, sub) != sub:
                    raise RosterError(f"subjects[{index}].cards: card {card} is bound to "
                                      f"sub {holders[card]} too")
            residents[sub] = resident
        return cls(residents, holders)

    def has(self, subject: str | None) -> bool:
        """Whether a pass's subject is a resident's (a pass without one is not)."""
        return subject is not None and subject.lower() in self.residents

    def cards_of(self, subject: str | None) -> tuple[str, ...]:
        """The tokens bound to a resident's subject; () for a visitor or no subject."""
        resident = self.residents.get(subject.lower()) if subject is not None else None
        return resident.cards if resident is not None else ()

    def holder(self, token: str) -> str | None:
        """The subject a card token is bound to, or None for a card on no resident."""
        return self.holders.get(token.lower())

    def __len__(self) -> int:
        return len(self.residents)


def _resident(entry, index: int) -> tuple[str, Resident]:
    where = f"subjects[{index}]"
    if not isinstance(entry, dict):
        raise RosterError(f"{where}: must be an object with 'sub'")
    sub = entry.get("sub")
    if not isinstance(sub, str) or not _HEX.fullmatch(sub):
        raise RosterError(f"{where}.sub: must be hex of 1 to 64 bytes")
    unit = entry.get("unit")
    if unit is not None and not (isinstance(unit, str) and 0 < len(unit) <= MAX_UNIT_CHARS):
        raise RosterError(f"{where}.unit: must be text of 1 to {MAX_UNIT_CHARS} characters")
    cards = entry.get("cards", [])
    if not isinstance(cards, list) or not all(
            isinstance(card, str) and _TOKEN.fullmatch(card) for card in cards):
        raise RosterError(f"{where}.cards: must be a list of card tokens (32 hex digits)")
    return sub.lower(), Resident(unit, tuple(card.lower() for card in cards))
