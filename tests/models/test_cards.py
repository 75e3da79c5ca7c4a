"""Card tokens (PROTOCOL section 9) against an HMAC computed here, and the card key file."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from models.cards import CardKeyError, card_token, parse_card, read_card_key
from models.roster import _TOKEN

KEY = bytes(range(32))


def independent(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


@pytest.mark.parametrize("kind, number, message", [
    ("mifare", bytes.fromhex("04A1B2C3"), b"mifare:\x04\xa1\xb2\xc3"),
    ("cnid", bytes.fromhex("0102030405060708"), b"cnid:\x01\x02\x03\x04\x05\x06\x07\x08"),
    ("hid", b"0012345678", b"hid:0012345678"),
])
def test_the_token_is_the_first_16_bytes_of_the_hmac_in_lowercase_hex(kind, number, message):
    token = card_token(KEY, kind, number)
    assert token == independent(KEY, message)
    assert _TOKEN.fullmatch(token) and token == token.lower() and len(token) == 32


def test_a_known_vector():
    # printf 'mifare:\x04\xa1\xb2\xc3' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f:
    # a literal, so a change of the message layout fails even if both sides changed alike
    assert card_token(KEY, "mifare", bytes.fromhex("04A1B2C3")) == \
        "e82547d02d4fce8475f3f6aeae1d4200"


def test_kind_and_key_both_change_the_token():
    number = bytes.fromhex("0102030405060708")
    tokens = {card_token(KEY, "cnid", number), card_token(KEY, "mifare", number[:7]),
              card_token(bytes(32), "cnid", number)}
    assert len(tokens) == 3


def test_a_short_key_or_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        card_token(KEY[:31], "mifare", b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="allowed: mifare, cnid, hid"):
        card_token(KEY, "iclass", b"\x01\x02\x03\x04")


def test_the_key_file_needs_32_bytes_and_names_itself(tmp_path):
    path = tmp_path / "card.key"
    path.write_bytes(os.urandom(31))
    with pytest.raises(CardKeyError, match=f"card key {path}: 31 bytes; at least 32"):
        read_card_key(path)
    path.write_bytes(KEY)
    assert read_card_key(path) == KEY
    with pytest.raises(CardKeyError, match="cannot read"):
        read_card_key(tmp_path / "absent.key")
    path.write_bytes(b"x" * 5000)
    with pytest.raises(CardKeyError, match="not a key file"):
        read_card_key(path)


@pytest.mark.parametrize("text, expected", [
    ("mifare:04A1B2C3D4E5F6", ("mifare", bytes.fromhex("04A1B2C3D4E5F6"))),
    ("cnid:0102030405060708", ("cnid", bytes.fromhex("0102030405060708"))),
    ("hid:0012345678", ("hid", b"0012345678")),
])
def test_a_card_written_as_kind_and_number(text, expected):
    assert parse_card(text) == expected


@pytest.mark.parametrize("text", ["04A1B2C3", "mifare:04A1B2", "mifare:zz", "cnid:0102",
                                  "iclass:01020304", "hid:", "hid:12 34"])
def test_a_card_that_is_no_card_is_refused_without_echoing_it(text):
    with pytest.raises(ValueError, match="allowed") as raised:
        parse_card(text)
    assert text.partition(":")[2] not in str(raised.value) or not text.partition(":")[2]
