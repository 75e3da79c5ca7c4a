"""What the district accepts on the wire (PROTOCOL.md sections 4 and 5), with named reasons.

A batch that cannot be read at all is refused as a whole; inside a readable batch each
record is judged alone, so one bad record does not hold back its neighbours.
"""

from __future__ import annotations

import json
import math
import uuid
import zlib

from models.reasons import DECISIONS, REASONS
from models.records import FIELD_TYPES, FIELDS
from models.timefmt import parse_rfc3339
from models.wire import CONTENT_JSON, CONTENT_ZLIB, SCHEMA_BATCH

MAX_INFLATED = 16 * 1024 * 1024     # a batch is at most 64 KiB of JSON; refuse bombs
MAX_SEQ = 2**63 - 1     # a 64-bit SQL integer, in SQLite and PostgreSQL alike



class BatchError(Exception):
    """The batch as a whole is refused; `reason` is a stable snake_case code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def decode_payload(payload: bytes, content_type: str | None) -> dict:
    """The batch object from an MQTT payload, plain or zlib JSON by content type."""
    if content_type == CONTENT_ZLIB:
        inflater = zlib.decompressobj()
        try:
            payload = inflater.decompress(payload, MAX_INFLATED)
        except zlib.error as exc:
            raise BatchError("bad_compression", str(exc)) from None
        if inflater.unconsumed_tail:
            raise BatchError("too_large", f"inflates beyond {MAX_INFLATED} bytes")
    elif content_type not in (None, CONTENT_JSON):
        raise BatchError("unknown_content_type", str(content_type))
    try:
        batch = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchError("bad_json", str(exc)) from None
    if not isinstance(batch, dict):
        raise BatchError("bad_json", "not an object")
    return batch


def check_envelope(batch: dict, device: str) -> None:
    """Raise BatchError naming the first envelope field that is wrong."""
    if batch.get("schema") != SCHEMA_BATCH:
        raise BatchError("unknown_schema", repr(batch.get("schema")))
    if batch.get("device") != device:
        raise BatchError("device_mismatch", f"{batch.get('device')!r} on {device}'s topic")
    if not is_uuid(batch.get("store")):
        raise BatchError("bad_store", repr(batch.get("store")))
    if not isinstance(batch.get("batch"), str) or not batch["batch"]:
        raise BatchError("bad_batch_id", repr(batch.get("batch")))
    if not isinstance(batch.get("records"), list):
        raise BatchError("bad_records", "records is not a list")


def is_uuid(value) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def record_problem(record) -> str | None:
    """None for a valid record, else the reason it is rejected."""
    if not isinstance(record, dict):
        return "not_an_object"
    if set(record) - set(FIELD_TYPES):
        return "unknown_field"
    if set(FIELDS) - set(record):
        return "missing_field"
    for name, value in record.items():
        problem = field_problem(name, value)
        if problem:
            return problem
    return None


def field_problem(name: str, value) -> str | None:
    """None if `value` is valid for the record field `name`, else the rejection reason."""
    return _value_problem(FIELD_TYPES[name], value)


def _value_problem(kind: str, value) -> str | None:
    if kind == "decision":
        return None if value in DECISIONS else "unknown_decision"
    if kind == "reasons":
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            return "bad_type"
        return None if all(r in REASONS for r in value) else "unknown_reason"
    if kind == "seq":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SEQ
        return None if ok else "bad_seq"
    if kind == "time":
        return None if isinstance(value, str) and _is_time(value) else "bad_time"
    return None if _type_ok(kind, value) else "bad_type"


def _type_ok(kind: str, value) -> bool:
    if value is None:
        return kind.endswith("or null")
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "number or null":
        return isinstance(value, int | float) and not isinstance(value, bool) \
            and _finite(value)
    # NUL: PostgreSQL text cannot hold it, so no backend takes it.
    return isinstance(value, str) and (kind != "text" or value != "") and "\x00" not in value


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:       # an int beyond any float
        return False


def _is_time(text: str) -> bool:
    try:
        parse_rfc3339(text)
    except ValueError:
        return False
    return True
