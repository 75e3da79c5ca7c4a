"""What the district accepts on the wire (PROTOCOL.md sections 4 and 5), with named reasons.

A batch that cannot be read at all is refused as a whole; inside a readable batch each
record is judged alone, so one bad record does not hold back its neighbours.

Every message is parsed at a bounded cost (models/safejson.py) before anything looks at
it, and a record passes only if each value is of the exact type, range and form that both
stores take: a value that passes here never makes an INSERT fail (an int beyond 64 bits,
a lone surrogate, a NUL), so it cannot roll back its good neighbours. The bounds below
are the contract's, documented with their codes in docs/protocol.md section 5.6.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
import zlib

from models.reasons import DECISIONS, REASONS
from models.records import FIELD_TYPES, FIELDS
from models.safejson import JsonRefused, loads, valid_text
from models.wire import CONTENT_JSON, CONTENT_ZLIB, SCHEMA_BATCH

# The batch JSON, plain or inflated. A device's batch is at most 200 records or about
# 64 KiB of JSON (edge/outbox.py), except that a single record bigger than that goes alone;
# with every text at its bound below (a note of 60,000 characters, each up to 6 bytes as a
# JSON escape) one record is under 400 KiB. 1 MiB takes all of that, and parsing 1 MiB
# costs milliseconds.
MAX_BATCH_JSON = 1024 * 1024
# batch -> records -> record -> reasons is 4 levels; room for an extension, and a
# 10^5-deep list is refused before any code walks it.
MAX_BATCH_DEPTH = 8
# A zlib batch is inflated no further than the JSON it may hold: a bomb costs 1 MiB.
MAX_INFLATED = MAX_BATCH_JSON
# A device's batch holds at most 200 records (edge/outbox.py). 1 MiB of JSON could carry
# 10^5 empty ones, each judged, logged and named in the ack: refused as a whole instead.
MAX_BATCH_RECORDS = 1000
# A status (PROTOCOL.md section 5) is a flat object of about 1 KiB whose camera, thermal
# and reader fields are small objects: 64 KiB and 8 levels are far above it.
MAX_STATUS_JSON = 64 * 1024
MAX_STATUS_DEPTH = 8

MAX_SEQ = 2**63 - 1     # a 64-bit SQL integer, in SQLite and PostgreSQL alike
# temperature_c is a screening estimate of skin or body temperature (the device screens
# at 34-42.5 degrees C): anything outside this is not a reading, and both stores keep it
# as a double.
TEMPERATURE_C = (-50.0, 100.0)
_LOW_C, _HIGH_C = TEMPERATURE_C
MAX_REASONS = len(REASONS)  # each code at most once would fit; a list is never longer
# Longest text per field, in characters. Short tokens (gate, operator, pass_format, color)
# get 64, names from a pass 256 (a DCC issuer is at most 80), a guard's note 60,000: the
# device sets no limit of its own, and an ASCII note that long still fits one 64 KiB batch.
# A time, a UUID or hex is bounded by its form.
MAX_TEXT = 64
MAX_LENGTHS = {"gate": 64, "operator": 64, "issuer": 256, "kid": 256, "note": 60_000}
MAX_HEX = 128           # subject and card: the device sends 32 (16 bytes); room for 64
CARD_KINDS = ("cnid", "mifare", "hid")
MAX_BATCH_ID = 64       # the device sends a UUID (36)

# RFC 3339 section 5.6 date-time: the calendar is checked by parsing it.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
                   r"(?:\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_DIGITS = "0123456789abcdef"


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
            payload = inflater.decompress(payload, MAX_INFLATED + 1)
        except zlib.error as exc:
            raise BatchError("bad_compression", str(exc)) from None
        if inflater.unconsumed_tail or len(payload) > MAX_INFLATED:
            raise BatchError("too_large", f"inflates beyond {MAX_INFLATED} bytes")
    elif content_type not in (None, CONTENT_JSON):
        raise BatchError("unknown_content_type", str(content_type)[:80])
    batch = read_json(payload, MAX_BATCH_JSON, MAX_BATCH_DEPTH)
    if not isinstance(batch, dict):
        raise BatchError("bad_json", "not an object")
    return batch


def read_json(payload: bytes, max_bytes: int, max_depth: int):
    """The JSON value of a message, read at a bounded cost; BatchError(too_large,
    bad_json (not UTF-8 included), too_deep)."""
    try:
        return loads(payload, max_bytes=max_bytes, max_depth=max_depth)
    except JsonRefused as exc:
        reason = "bad_json" if exc.reason == "not_utf8" else exc.reason
        raise BatchError(reason, str(exc).removeprefix(f"{reason}: ")) from None


def check_envelope(batch: dict, device: str) -> None:
    """Raise BatchError naming the first envelope field that is wrong."""
    if batch.get("schema") != SCHEMA_BATCH:
        raise BatchError("unknown_schema", _shown(batch.get("schema")))
    if batch.get("device") != device:
        raise BatchError("device_mismatch", f"{_shown(batch.get('device'))} on {device}'s topic")
    if not is_uuid(batch.get("store")):
        raise BatchError("bad_store", _shown(batch.get("store")))
    if _batch_id(batch.get("batch")):
        raise BatchError("bad_batch_id", _shown(batch.get("batch")))
    if not isinstance(batch.get("records"), list):
        raise BatchError("bad_records", "records is not a list")
    if len(batch["records"]) > MAX_BATCH_RECORDS:
        raise BatchError("too_many_records",
                         f"{len(batch['records'])} records, at most {MAX_BATCH_RECORDS}")


def _shown(value) -> str:
    """A value from the wire for a log line: ASCII (no lone surrogate reaches the log),
    and short."""
    text = ascii(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_uuid(value) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def canonical_store(store: str) -> str:
    """A store id in the one form the district keeps and compares: `str(uuid.UUID(x))`,
    lowercase and hyphenated (what a device's uuid4 already is)."""
    return str(uuid.UUID(store))


def record_problem(record) -> str | None:
    """None for a valid record, else the reason it is rejected (the first field found)."""
    if not isinstance(record, dict):
        return "not_an_object"
    keys = record.keys()
    if not keys <= _KNOWN:
        return "unknown_field"
    if not keys >= _REQUIRED:
        return "missing_field"
    for name, value in record.items():
        if name in _REPEATING and type(value) in _SCALARS:
            if (name, type(value), value) in _seen_valid:
                continue
            problem = _CHECKS[name](value)
            if problem:
                return problem
            _remember(name, value)
            continue
        problem = _CHECKS[name](value)
        if problem:
            return problem
    return None


# Values a gate repeats in record after record (its gate, the issuer, the decision, null
# notes...) are checked once: a check is a pure function of the value, so a value seen
# valid is valid. The key holds the exact type (True == 1 in Python, and only a bool is
# a bool here). Bounded: a flood of distinct values empties it, it never grows past that.
_REPEATING = frozenset(("clock_synced", "gate", "decision", "pass_format", "issuer", "kid",
                        "color", "temperature_c", "operator", "note", "card_kind"))
_SCALARS = frozenset((str, int, float, bool, type(None)))     # hashable, compared exactly
MAX_SEEN_VALID = 4096
_seen_valid: set[tuple] = set()


def _remember(name: str, value) -> None:
    if len(_seen_valid) >= MAX_SEEN_VALID:
        _seen_valid.clear()
    _seen_valid.add((name, type(value), value))


def field_problem(name: str, value) -> str | None:
    """None if `value` is valid for the record field `name`, else the rejection reason."""
    return _CHECKS[name](value)


# -- one check per field ----------------------------------------------------------------
# On the hot path: every record of every batch passes here, so each check is one call and
# the common case (ASCII text, a time as the device writes it) takes the shortest way.


def _unclean(text: str) -> bool:
    """Text no store takes: a lone surrogate (json.loads lets "\\ud800" through; SQLite,
    PostgreSQL and the log refuse it) or a NUL (PostgreSQL text cannot hold it)."""
    return "\x00" in text or not (text.isascii() or valid_text(text))


def _text(limit: int, nullable: bool):
    """Text of at most `limit` characters; never empty unless the field may be null."""
    def check(value) -> str | None:
        if type(value) is not str:
            return None if value is None and nullable else "bad_type"
        if "\x00" in value or not (value.isascii() or valid_text(value)):
            return "bad_text"
        if len(value) > limit:
            return "too_long"
        return None if value or nullable else "bad_type"
    return check


def _formatted(fits, reason: str, nullable: bool):
    """Text of one form (`fits`, which bounds the length too), else `reason`."""
    def check(value) -> str | None:
        if type(value) is not str:
            return None if value is None and nullable else "bad_type"
        if fits(value):
            return None
        if value == "" and not nullable:
            return "bad_type"
        return "bad_text" if _unclean(value) else reason
    return check


def _is_uuid_text(text: str) -> bool:
    return _UUID.fullmatch(text) is not None


def _is_hex(text: str) -> bool:
    """Lowercase hex of whole bytes, 1 to MAX_HEX // 2 of them."""
    return 0 < len(text) <= MAX_HEX and len(text) % 2 == 0 and not text.strip(_HEX_DIGITS)


def _time(nullable: bool):
    """An RFC 3339 date-time, as the device writes it (models/timefmt.py)."""
    def check(value) -> str | None:
        if type(value) is not str:
            return None if value is None and nullable else "bad_time"
        if _is_time(value):
            return None
        return "bad_text" if _unclean(value) else "bad_time"
    return check


def _is_time(text: str) -> bool:
    """The form by the pattern, the calendar (2026-02-30, 24:00, an offset of a day) by
    parsing."""
    if _TIME.fullmatch(text) is None:
        return False
    try:
        _dt.datetime.fromisoformat(text.upper())    # 3.11 reads "Z"; "t" and "z" it needs
    except ValueError:                              # in upper case
        return False
    return True


def _seq(value) -> str | None:
    return None if type(value) is int and 0 < value <= MAX_SEQ else "bad_seq"    # no bool


def _bool(value) -> str | None:
    return None if type(value) is bool else "bad_type"


def _decision(value) -> str | None:
    if type(value) is not str:
        return "bad_type"
    if value in _DECISION_SET:
        return None
    return "bad_text" if _unclean(value) else "unknown_decision"


def _reasons(value) -> str | None:
    if type(value) is not list:
        return "bad_type"
    for code in value:
        if type(code) is not str:
            return "bad_type"
    if len(value) > MAX_REASONS:
        return "too_long"
    for code in value:
        if code not in _REASON_SET:
            return "bad_text" if _unclean(code) else "unknown_reason"
    return None


def _card_kind(value) -> str | None:
    if value is None or (type(value) is str and value in _CARD_KIND_SET):
        return None
    if type(value) is not str:
        return "bad_type"
    return "bad_text" if _unclean(value) else "unknown_card_kind"


def _temperature(value) -> str | None:
    """A finite number in TEMPERATURE_C, stored as a double. Python compares an int with
    a float exactly, so 2**63 or 10**400 is out of range here, never an overflow later."""
    kind = type(value)
    if kind is not float and kind is not int:
        return None if value is None else "bad_type"    # bool is not int here
    return None if _LOW_C <= value <= _HIGH_C else "bad_number"     # NaN is in no range


_CHECKS = {
    "id": _formatted(_is_uuid_text, "bad_id", nullable=False),
    "seq": _seq,
    "ts": _time(nullable=False),
    "clock_synced": _bool,
    "gate": _text(MAX_LENGTHS["gate"], nullable=False),
    "decision": _decision,
    "reasons": _reasons,
    "pass_format": _text(MAX_TEXT, nullable=True),
    "issuer": _text(MAX_LENGTHS["issuer"], nullable=True),
    "kid": _text(MAX_LENGTHS["kid"], nullable=True),
    "subject": _formatted(_is_hex, "bad_subject", nullable=True),
    "color": _text(MAX_TEXT, nullable=True),
    "pass_exp": _time(nullable=True),
    "tested_at": _time(nullable=True),
    "temperature_c": _temperature,
    "operator": _text(MAX_LENGTHS["operator"], nullable=True),
    "note": _text(MAX_LENGTHS["note"], nullable=True),
    "card": _formatted(_is_hex, "bad_card", nullable=True),
    "card_kind": _card_kind,
}
if _CHECKS.keys() != FIELD_TYPES.keys():
    raise RuntimeError("district/validate.py: a record field (models/records.py) has no check")
_batch_id = _text(MAX_BATCH_ID, nullable=False)
_KNOWN = frozenset(FIELD_TYPES)
_DECISION_SET = frozenset(DECISIONS)
_CARD_KIND_SET = frozenset(CARD_KINDS)
_REQUIRED = frozenset(FIELDS)
_REASON_SET = frozenset(REASONS)
