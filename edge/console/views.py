"""What the page shows of a record: codes and numbers only; the page translates them."""

from __future__ import annotations

from models.records import Record


def decision_view(record: Record, name: str | None = None) -> dict:
    """`name`: the masked display name the pass carries ("张*明"), for the screen only."""
    return {"id": record.id, "ts": record.ts, "decision": record.decision,
            "reasons": list(record.reasons), "color": record.color,
            "temperature_c": record.temperature_c, "operator": record.operator,
            "name": name, "stored": record.seq is not None}


def part(health: str) -> dict:
    """A driver's health phrase ("ok", "starting", "fault: why") as the strip shows it."""
    if health in ("ok", "starting"):
        return {"state": health, "detail": None}
    if health.startswith("fault: "):
        return {"state": "fault", "detail": health[len("fault: "):]}
    return {"state": "fault", "detail": health}


BACKLOG_ALARM = 1000        # records waiting for the district: the uplink is behind


def health_view(parts: dict[str, str], *, connected: bool, backlog: int, trust_stale: bool,
                trust_age_h: float | None, clock_synced: bool) -> dict:
    """The health strip: each part `ok` or what is wrong with it (a code, or the driver's
    own short phrase in `detail`); `value` is a figure the strip shows beside a part."""
    view = {name: part(health) for name, health in parts.items()}
    view["broker"] = {"state": "ok" if connected else "offline", "detail": None}
    view["backlog"] = {"state": "ok" if backlog < BACKLOG_ALARM else "behind",
                       "detail": None, "value": backlog}
    view["trust"] = {"state": "stale" if trust_stale else "ok", "detail": None,
                     "value": None if trust_age_h is None else round(trust_age_h)}
    view["clock"] = {"state": "ok" if clock_synced else "unsynced", "detail": None}
    return view
