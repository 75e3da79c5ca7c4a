"""Decisions and reason codes: stable wire values (PROTOCOL.md section 2)."""

from __future__ import annotations

PASS = "pass"
DENY = "deny"
CHECK = "check"
DECISIONS = (PASS, DENY, CHECK)

# Pass reading and verification.
UNREADABLE = "unreadable"
UNKNOWN_FORMAT = "unknown_format"
MALFORMED = "malformed"
BAD_SIGNATURE = "bad_signature"
UNKNOWN_KEY = "unknown_key"
KEY_EXPIRED = "key_expired"
WRONG_KEY_USAGE = "wrong_key_usage"
PASS_EXPIRED = "pass_expired"
NOT_YET_VALID = "not_yet_valid"
LIFETIME_TOO_LONG = "lifetime_too_long"
REVOKED = "revoked"
REPLAYED = "replayed"
# Health state.
COLOR_YELLOW = "color_yellow"
COLOR_RED = "color_red"
TEST_TOO_OLD = "test_too_old"
TEST_MISSING = "test_missing"
# Temperature.
FEVER = "fever"
TEMPERATURE_MISSING = "temperature_missing"
SENSOR_FAULT = "sensor_fault"
# Device state and people.
TRUST_STALE = "trust_stale"
CLOCK_UNSYNCED = "clock_unsynced"
OPERATOR_ALLOW = "operator_allow"
OPERATOR_DENY = "operator_deny"
VISITOR = "visitor"
# Cards (PROTOCOL.md section 9): on the wire, so a receiver takes them; no rule of this
# device's policy produces them yet.
CARD_MISMATCH = "card_mismatch"
CARD_MISSING = "card_missing"
CARD_UNKNOWN = "card_unknown"
CARD_REASONS = (CARD_MISMATCH, CARD_MISSING, CARD_UNKNOWN)

REASONS = (
    UNREADABLE, UNKNOWN_FORMAT, MALFORMED, BAD_SIGNATURE, UNKNOWN_KEY, KEY_EXPIRED,
    WRONG_KEY_USAGE, PASS_EXPIRED, NOT_YET_VALID, LIFETIME_TOO_LONG, REVOKED, REPLAYED,
    COLOR_YELLOW, COLOR_RED, TEST_TOO_OLD, TEST_MISSING,
    FEVER, TEMPERATURE_MISSING, SENSOR_FAULT,
    TRUST_STALE, CLOCK_UNSYNCED, OPERATOR_ALLOW, OPERATOR_DENY, VISITOR,
    *CARD_REASONS,
)
