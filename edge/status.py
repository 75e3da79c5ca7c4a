"""The device's status message (`cp/v1/{device}/status`, retained) and its last will.

PROTOCOL.md section 5 fixes the fields from `schema` to `policy_version`; this project
adds `roster_version`, `alarm` (null, `disk_full`, `store_failing` or `worker_died`),
`workers` (each supervised thread: running / dead) and `counters` (what the drivers and
workers counted since start). A change of any WATCHED field is published at once, not at the next
minute.
"""

from __future__ import annotations

from models.timefmt import rfc3339
from models.wire import SCHEMA_STATUS
from runtime.version import VERSION

# Fields whose change is news for the district: published without waiting.
WATCHED = ("alarm", "camera", "thermal", "gate", "reader")


def last_will(device: str, boot_id: str) -> dict:
    """What the broker publishes if the device vanishes. Only what cannot go stale: a full
    status frozen at connect time would show an old backlog and time."""
    return {"schema": SCHEMA_STATUS, "device": device, "online": False, "version": VERSION,
            "boot_id": boot_id}


def status_message(device: str, *, online: bool, now: float, boot_id: str, uptime_s: float,
                   backlog: tuple[int, str | None], clock_synced: bool, disk_free_mb: int,
                   health: dict) -> dict:
    """The full status; `health` is what the agent knows of its parts (see Agent.health)."""
    count, oldest = backlog
    return {
        "schema": SCHEMA_STATUS, "device": device, "online": online, "ts": rfc3339(now),
        "version": VERSION, "boot_id": boot_id, "uptime_s": int(uptime_s),
        "backlog": count, "oldest_unsynced": oldest,
        "camera": health.get("camera", "unknown"),
        "thermal": health.get("thermal", "unknown"),
        "gate": health.get("gate", "unknown"),
        "reader": health.get("reader"),     # null: no card reader configured
        "clock_synced": clock_synced, "disk_free_mb": disk_free_mb,
        "trustlist_version": health.get("trustlist_version"),
        "revocations_version": health.get("revocations_version"),
        "policy_version": health.get("policy_version"),
        "roster_version": health.get("roster_version"),
        "alarm": health.get("alarm"),
        "workers": health.get("workers", {}),
        "counters": health.get("counters", {}),
    }


def watched(health: dict) -> tuple:
    return tuple(health.get(name) for name in WATCHED)
