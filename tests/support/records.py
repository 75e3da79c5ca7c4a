"""Records as the controller makes them, for store and delivery tests."""

from __future__ import annotations

from models.records import Record


def record(n: int, decision: str = "pass", ts: str = "2026-11-29T03:04:05.000Z") -> Record:
    return Record(id=f"id-{n}", ts=ts, clock_synced=True, gate="east-1", decision=decision,
                  reasons=("fever",) if decision == "deny" else (), temperature_c=36.5)
