"""Card tokens (PROTOCOL.md section 9): a card's physical number becomes a keyed hash at
once, and only the hash is ever kept, compared or sent.

    token = first 16 bytes of HMAC-SHA256(card_key, kind + ":" + number bytes), lowercase hex

The card number is not secret (anyone with a reader can read it), so the key is what makes
a token useless to whoever copies the roster or a record: without the district's key a
token cannot be matched to a card. `card_token` is pure; `read_card_key` is the one
function here that touches a file.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

KINDS = ("mifare", "cnid", "hid")
MIN_CARD_KEY_LEN = 32       # bytes: PROTOCOL section 9, "at least 32 random bytes"
TOKEN_BYTES = 16
MAX_KEY_FILE = 4096         # a key file is small; a bigger one is the wrong file
MAX_NUMBER = 64             # bytes: no card number is longer (hid lines are bounded too)
# The physical numbers each kind carries: ISO 14443 A UIDs are 4, 7 or 10 bytes; the ID
# card's physical number is 8; a keyboard-wedge reader's digits are ASCII, 1 to 63.
_LENGTHS = {"mifare": (4, 7, 10), "cnid": (8,)}


class CardKeyError(Exception):
    """The card key file cannot be used; the message names the file and why."""


def card_token(key: bytes, kind: str, number: bytes) -> str:
    """The card's token: 32 lowercase hex digits (models/roster.py's pattern)."""
    if kind not in KINDS:
        raise ValueError(f"card kind {kind!r}; allowed: {', '.join(KINDS)}")
    if len(key) < MIN_CARD_KEY_LEN:
        raise ValueError(f"card key: at least {MIN_CARD_KEY_LEN} bytes needed")
    digest = hmac.new(key, kind.encode("ascii") + b":" + bytes(number), hashlib.sha256)
    return digest.digest()[:TOKEN_BYTES].hex()


def number_problem(kind: str, number: bytes) -> str | None:
    """Why `number` cannot be a card of `kind`, or None when it can."""
    if kind not in KINDS:
        return f"kind {kind!r}; allowed: {', '.join(KINDS)}"
    if kind == "hid":
        ok = 0 < len(number) < MAX_NUMBER and number.isascii() and number.isalnum()
        return None if ok else "allowed for hid: 1 to 63 ASCII digits or letters"
    lengths = _LENGTHS[kind]
    if len(number) not in lengths:
        return f"allowed for {kind}: {', '.join(map(str, lengths))} bytes"
    return None


def parse_card(text: str) -> tuple[str, bytes]:
    """A card written as `kind:number` (a scenario's person, a simulator's option):
    `mifare:04A1B2C3D4` and `cnid:...` in hex, `hid:0012345678` as the digits typed.
    ValueError("allowed: ...") when it is not one."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS:
        raise ValueError(f"allowed: KIND:NUMBER with KIND one of {', '.join(KINDS)}, "
                         "e.g. mifare:04A1B2C3D4")
    if kind == "hid":
        number = rest.encode("ascii", "replace")
    else:
        try:
            number = bytes.fromhex(rest)
        except ValueError:
            raise ValueError(f"allowed for {kind}: the number in hex") from None
    problem = number_problem(kind, number)
    if problem:
        raise ValueError(problem)
    return kind, number


def read_card_key(path: Path) -> bytes:
    """The district's card key: the file's bytes as they are (at least 32 of them, e.g.
    `head -c 32 /dev/urandom > card.key`); CardKeyError naming the file otherwise."""
    try:
        with open(path, "rb") as file:
            key = file.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise CardKeyError(f"card key {path}: cannot read: {exc.strerror}") from None
    if len(key) > MAX_KEY_FILE:
        raise CardKeyError(f"card key {path}: larger than {MAX_KEY_FILE} bytes; "
                           "not a key file")
    if len(key) < MIN_CARD_KEY_LEN:
        raise CardKeyError(f"card key {path}: {len(key)} bytes; at least "
                           f"{MIN_CARD_KEY_LEN} needed (head -c 32 /dev/urandom > {path})")
    return key
