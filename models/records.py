"""One decision record: the row in SQLite and the object on the wire (PROTOCOL.md section 4)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FIELDS = (
    "id", "seq", "ts", "clock_synced", "gate", "decision", "reasons", "pass_format",
    "issuer", "kid", "subject", "color", "pass_exp", "tested_at", "temperature_c",
    "operator", "note",
)


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
    seq: int | None = None          # assigned by the store on commit

    def to_wire(self) -> dict[str, Any]:
        """The record's fields in PROTOCOL order, reasons as a list."""
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return {key: data[key] for key in FIELDS}
