"""Base45 against RFC 9285's examples, its error cases, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.base45 import ALPHABET, b45decode, b45encode
from tests.support.independent_cp1 import base45 as independent_base45

RFC_EXAMPLES = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
                (b"ietf!", "QED8WEX0"), (b"", "")]


@pytest.mark.parametrize(("raw", "text"), RFC_EXAMPLES)
def test_rfc_examples_encode_and_decode(raw, text):
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize(("text", "problem"), [
    ("GGW", "exceeds 65535"),       # 65536
    ("::", "exceeds 255"),          # a final pair worth 2024
    ("ABCD", "length"),             # a lone trailing character
    ("A", "length"),
    ("abc", "character"),           # lowercase is not in the alphabet
    ("BB8\n", "character"),
])
def test_invalid_input_is_a_value_error(text, problem):
    with pytest.raises(ValueError, match=problem):
        b45decode(text)


def test_largest_groups_decode():
    assert b45decode("FGW") == b"\xff\xff"
    assert b45decode("U5") == b"\xff"


@given(st.binary(max_size=300))
def test_round_trip_and_agreement_with_independent_encoder(data):
    text = b45encode(data)
    assert text == independent_base45(data)
    assert b45decode(text) == data


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_decode_either_refuses_or_is_the_inverse_of_encode(text):
    try:
        data = b45decode(text)
    except ValueError:
        return
    assert b45encode(data) == text
