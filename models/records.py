"""One decision record: the row in SQLite and the object on the wire (PROTOCOL.md section 4)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The record on the wire, field by field, in PROTOCOL order: name -> type. The types are
# what the district checks (district/validate.py); "text" is never empty.
FIELD_TYPES = {
    "id": "text", "seq": "seq", "ts": "time", "clock_synced": "bool", "gate": "text",
    "decision": "decision", "reasons": "reasons", "pass_format": "text or null",
    "issuer": "text or null", "kid": "text or null", "subject": "text or null",
    "color": "text or null", "pass_exp": "text or null", "tested_at": "text or null",
    "temperature_c": "number or null", "operator": "text or null", "note": "text or null",
    "card": "text or null", "card_kind": "text or null",
}
# Came after the first release of checkpoint.batch/1: a receiver takes records with or
# without them.
OPTIONAL_FIELDS = ("card", "card_kind")
# What every record on the wire carries; the optional fields follow when they are set,
# so a record with no card is byte for byte what the first release sent.
FIELDS = tuple(name for name in FIELD_TYPES if name not in OPTIONAL_FIELDS)
STORED = tuple(FIELD_TYPES)         # the device's columns: every field


@dataclass(frozen=True)
class Record:
    id: str
    ts: str
    clock_synced: bool
    gate: str
    decision: str
    reasons: tuple[str, ...] = ()
    pass_format: str | None = None
    issuer: str | None = None
    kid: str | None = None
    subject: str | None = None
    color: str | None = None
    pass_exp: str | None = None
    tested_at: str | None = None
    temperature_c: float | None = None
    operator: str | None = None
    note: str | None = None
    card: str | None = None         # the tapped card's token (PROTOCOL.md section 9)
    card_kind: str | None = None    # "mifare" / "cnid" / "hid"
    seq: int | None = None          # assigned by the store on commit

    def to_wire(self) -> dict[str, Any]:
        """The record's fields in PROTOCOL order, reasons as a list; the optional card
        fields only when the record has a card."""
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return wire_fields(data)


def wire_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A record's fields as sent: the required ones, then the optional ones that are set."""
    return {key: data[key] for key in FIELD_TYPES
            if key not in OPTIONAL_FIELDS or data.get(key) is not None}
