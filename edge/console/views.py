"""What the page shows of a record: codes and numbers only; the page translates them."""

from __future__ import annotations

from models.records import Record


def decision_view(record: Record) -> dict:
    return {"id": record.id, "ts": record.ts, "decision": record.decision,
            "reasons": list(record.reasons), "color": record.color,
            "temperature_c": record.temperature_c, "operator": record.operator,
            "stored": record.seq is not None}


def part(health: str) -> dict:
    """A driver's health phrase ("ok", "starting", "fault: why") as the strip shows it."""
    if health == "ok":
        return {"state": "ok", "detail": None}
    if health.startswith("fault: "):
        return {"state": "fault", "detail": health[len("fault: "):]}
    return {"state": "fault", "detail": health}


def health_view(parts: dict[str, str], *, connected: bool, trust_stale: bool,
                clock_synced: bool) -> dict:
    """The health strip: each part `ok` or what is wrong with it (a code, or the driver's
    own short phrase in `detail`)."""
    view = {name: part(health) for name, health in parts.items()}
    view["broker"] = {"state": "ok" if connected else "offline", "detail": None}
    view["trust"] = {"state": "stale" if trust_stale else "ok", "detail": None}
    view["clock"] = {"state": "ok" if clock_synced else "unsynced", "detail": None}
    return view
