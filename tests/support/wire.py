"""Records and batches as a device puts them on the wire, for the district's tests."""

from __future__ import annotations

import uuid

STORE = str(uuid.uuid4())   # the store id of the device most tests speak for


def record_id(n: int) -> str:
    """A canonical UUIDv7-shaped record id, the same for the same `n`, distinct for each."""
    return f"01900000-0000-7000-8000-{n % 16**12:012x}"


def wire_record(seq: int, **changes) -> dict:
    """A valid record (PROTOCOL section 4 fields) with seq `seq`, changed as given; its id
    is `record_id(seq)` (the district takes only canonical UUIDs)."""
    base = {"id": record_id(seq), "seq": seq, "ts": f"2026-11-29T03:{seq % 60:02d}:05.123Z",
            "clock_synced": True, "gate": "east-1", "decision": "deny", "reasons": ["fever"],
            "pass_format": "CP1", "issuer": "CN-BJ-110105", "kid": "abcd",
            "subject": f"{seq:032x}", "color": "green", "pass_exp": None, "tested_at": None,
            "temperature_c": 38.1, "operator": None, "note": None}
    return {**base, **changes}


def wire_batch(*records, store: str = STORE, device: str = "dev-1") -> dict:
    return {"schema": "checkpoint.batch/1", "device": device, "store": store,
            "batch": str(uuid.uuid4()), "sent": "2026-11-29T03:04:06.000Z",
            "records": list(records)}


# A lone surrogate, as json.loads reads its escape "\ud800": valid JSON, not valid UTF-8.
SURROGATE = "\ud800"
