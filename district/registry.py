"""What the device registry shows of a device's parts, read from its latest status.

A status is hostile input kept as it came (district/receiver.py bounds its size); what the
registry lifts out of it is checked here, so an operator's listing never carries a
device's arbitrary JSON in a field that is meant to be a state: a value of the wrong type
becomes null (or "unknown" for a state), a text is bounded, a time is re-written in the
wire's own form.

`alarms` names, in a fixed order, what an operator should look at (docs/district.md,
"District devices"): `uplink` (the latest message says the device is offline: a last will
or a goodbye), `clock` (`clock_synced` is not true), `camera`, `thermal`, `gate`, `reader`
(the part's state is present and is neither "ok", "starting", "absent" nor, for the
reader, null: a fault, or a value that is no state), the device's own `alarm`
(`disk_full`, `store_failing`, `worker_died`; any other value as `alarm`), and
`two_stores` when the device is flagged as a clone. A field the status leaves out (a last
will carries no parts) raises no alarm: absence is not news, `uplink` covers it.
"""

from __future__ import annotations

import re

from models.timefmt import parse_rfc3339, rfc3339

MAX_STATE_CHARS = 200       # "fault: why" stays short; a longer text is cut, not refused
UNKNOWN = "unknown"
PARTS = ("camera", "thermal", "gate", "reader")
QUIET_STATES = ("ok", "starting", "absent")     # no alarm: working, coming, not fitted
DEVICE_ALARMS = ("disk_full", "store_failing", "worker_died")   # edge/status.py `alarm`
KNOWN_BUNDLES = ("trustlist", "revocations", "policy", "roster")
# Any other `<kind>_version` a later release adds is listed too, within these bounds.
BUNDLE_FIELD = re.compile(r"([a-z][a-z0-9_]{0,31})_version")
MAX_BUNDLES = 16
MAX_COUNT = 2**53           # beyond this a "count" is no count (and JSON readers lose it)
MAX_TIME_CHARS = 64
CLONE_FLAG = "two_stores"


def reader_state(status: dict) -> str | None:
    """The card reader's state: "ok", "starting", "fault: why" as the device reports it;
    None when the device has no reader configured (its status says `reader: null`);
    "unknown" when the latest status does not say (a last will, a release before readers,
    or a value that is no state)."""
    if not isinstance(status, dict) or "reader" not in status:
        return UNKNOWN
    state = status["reader"]
    if state is None:
        return None
    if not isinstance(state, str) or not state or not state.isprintable():
        return UNKNOWN
    return state[:MAX_STATE_CHARS]


def device_fields(status: dict, *, online: bool, flag: str | None) -> dict:
    """The fields `district devices` lifts from the latest status, each checked."""
    status = status if isinstance(status, dict) else {}
    return {"backlog": count(status.get("backlog")),
            "oldest_unsynced": wire_time(status.get("oldest_unsynced")),
            "bundles": bundle_versions(status),
            "alarms": alarms(status, online=online, flag=flag),
            "clone_flagged": flag == CLONE_FLAG}


def count(value: object) -> int | None:
    """A non-negative integer (not a bool, not a float), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        return None
    return value


def wire_time(value: object) -> str | None:
    """An RFC 3339 time as the wire writes it (UTC, milliseconds), else None."""
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        return None
    try:
        return rfc3339(parse_rfc3339(value))
    except (ValueError, OverflowError, OSError):    # OSError: a year the platform lacks
        return None


def bundle_versions(status: dict) -> dict[str, int | None]:
    """{kind: version}: the four kinds always (null when not in force, not said, or not a
    version), then any other `<kind>_version` field, by name, up to MAX_BUNDLES in all.
    The program's own `version` is no bundle."""
    kinds = list(KNOWN_BUNDLES)
    others = sorted(match[1] for key in status if isinstance(key, str)
                    and (match := BUNDLE_FIELD.fullmatch(key)) and match[1] not in kinds)
    kinds += others[:MAX_BUNDLES - len(kinds)]
    return {kind: count(status.get(f"{kind}_version")) for kind in kinds}


def alarms(status: dict, *, online: bool, flag: str | None) -> list[str]:
    """What is not well with the device, in the module docstring's order."""
    found = [] if online else ["uplink"]
    if "clock_synced" in status and status["clock_synced"] is not True:
        found.append("clock")
    for part in PARTS:
        if part in status and not _quiet(part, status[part]):
            found.append(part)
    own = status.get("alarm")
    if own is not None:
        found.append(own if own in DEVICE_ALARMS else "alarm")
    if flag == CLONE_FLAG:
        found.append(CLONE_FLAG)
    return found


def _quiet(part: str, state: object) -> bool:
    return state in QUIET_STATES or (part == "reader" and state is None)
