"""What a guard does at the console, as items for the controller's queue, and the record
each becomes (PROTOCOL.md section 4: `operator` is the guard's id, `note` says what and
for which decision).

- `Override`: allow or deny the person of a recent decision, with a reason from a short
  list, only where the policy's `operator_override` allows it (`operator_allow` /
  `operator_deny`).
- `CheckDone`: close a `check` with the guard's outcome. A `check` asks for the guard by
  design, so this needs no override permission; it closes a check once.
- `Registration`: register the visitor of a `check` whose only reason is `visitor`: the
  unit visited, a reason from a short list, optionally the last four digits of a phone
  number, never a name. It becomes a `pass` with the registration in `note`. Registered
  by tap, it carries the visitor's card token (`card`, `card_kind`; edge/cards.py): the
  district can then trace the visitor by that token, and nothing typed names them.

The new record copies the pass fields of the decision it acts on (who it was, by
pseudonymous subject only), so the district sees one person decided twice, the second
time by a guard. A refused action raises ActionError with a reason code the console can
translate; the controller stays the single writer and opens the gate only after commit.
"""

from __future__ import annotations

import re
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from edge.cards import Tapped
from models import reasons as R
from models.records import Record

OVERRIDE_REASONS = ("known_resident", "medical", "delivery", "staff", "remeasured", "other")
VISIT_REASONS = ("family", "delivery", "repair", "medical", "official", "other")
_UNIT = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,23}")
_PHONE4 = re.compile(r"[0-9]{4}")


class ActionError(Exception):
    """A refused guard action; `reason` is a stable code for the console."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Action:
    operator: str                   # the signed-in guard's id
    of: str                         # id of the decision acted on
    result: Future = field(default_factory=Future, compare=False, repr=False)


@dataclass(frozen=True)
class Override(Action):
    allow: bool = False
    reason: str = "other"


@dataclass(frozen=True)
class CheckDone(Action):
    allow: bool = False
    reason: str = "other"


@dataclass(frozen=True)
class Registration(Action):
    unit: str = ""
    reason: str = "other"
    phone_last4: str | None = None
    card: Tapped | None = None      # the visitor's tap, when registered by card


def judge(action: Action, decided: Record | None, closed: bool, override_allowed: bool
          ) -> tuple[str, tuple[str, ...], str]:
    """(decision, reasons, note) for `action` on the decision `decided`, or ActionError."""
    if decided is None:
        raise ActionError("unknown_decision", action.of)
    if isinstance(action, Override):
        if not override_allowed:
            raise ActionError("override_not_allowed")
        _choice(action.reason, OVERRIDE_REASONS)
        decision = R.PASS if action.allow else R.DENY
        return decision, (R.OPERATOR_ALLOW if action.allow else R.OPERATOR_DENY,), \
            f"override of {decided.id}: {action.reason}"
    if decided.decision != R.CHECK or closed:
        raise ActionError("not_an_open_check", action.of)
    if isinstance(action, CheckDone):
        _choice(action.reason, OVERRIDE_REASONS)
        decision = R.PASS if action.allow else R.DENY
        return decision, (R.OPERATOR_ALLOW if action.allow else R.OPERATOR_DENY,), \
            f"check {decided.id} done: {action.reason}"
    if isinstance(action, Registration):
        return R.PASS, (), _registration_note(action, decided)
    raise ActionError("unknown_action", type(action).__name__)


def check_registration(action: Registration) -> None:
    """ActionError for a registration's own fields (unit, reason, phone digits): the
    console checks them before asking a visitor to tap, so a typo costs no tap."""
    if not _UNIT.fullmatch(action.unit or ""):
        raise ActionError("bad_unit")
    _choice(action.reason, VISIT_REASONS)
    if action.phone_last4 is not None and not _PHONE4.fullmatch(action.phone_last4):
        raise ActionError("bad_phone_digits")


def _registration_note(action: Registration, decided: Record) -> str:
    if decided.reasons != (R.VISITOR,):
        raise ActionError("not_a_visitor_check", ",".join(decided.reasons))
    check_registration(action)
    phone = f" phone=*{action.phone_last4}" if action.phone_last4 else ""
    card = f" card={action.card.kind}" if action.card is not None else ""
    return f"visitor of {decided.id}: unit={action.unit} reason={action.reason}{phone}{card}"


def record_for(action: Action, decided: Record, decision: str, reasons: tuple[str, ...],
               note: str, *, record_id: str, ts: str, clock_synced: bool) -> Record:
    """The guard's record: the person's pass fields from `decided` (a registration by tap:
    with the visitor's card instead of the one decided on), the guard's outcome."""
    card = getattr(action, "card", None)
    if card is not None:
        decided = replace(decided, card=card.token, card_kind=card.kind)
    return replace(decided, id=record_id, ts=ts, clock_synced=clock_synced,
                   decision=decision, reasons=reasons, operator=action.operator, note=note,
                   seq=None)


def _choice(value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ActionError("bad_reason", value if isinstance(value, str) else "")
