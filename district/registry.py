"""What the device registry shows of a device's parts, read from its latest status.

A status is hostile input kept as it came (district/receiver.py bounds its size); what the
registry lifts out of it is checked here, so an operator's listing never carries a
device's arbitrary JSON in a field that is meant to be a state.
"""

from __future__ import annotations

MAX_STATE_CHARS = 200       # "fault: why" stays short; a longer text is cut, not refused
UNKNOWN = "unknown"


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
