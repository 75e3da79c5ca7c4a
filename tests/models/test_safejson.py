"""Bounded JSON: every hostile shape is one JsonRefused with a reason, never another error."""

from __future__ import annotations

import json

import pytest

from models.safejson import JsonRefused, depth, loads, valid_text


@pytest.mark.parametrize(("data", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "too_deep"),       # the parser's own stack
    (b"[[[[[[[[[[1]]]]]]]]]]", "too_deep"),               # 10 levels, limit 8
    (b'{"a": ' * 20 + b"1" + b"}" * 20, "too_deep"),
    (b"x" * 1001, "too_large"),
    (b"\xff\xfe", "not_utf8"),
    (b"NaN", "bad_json"), (b"[Infinity]", "bad_json"), (b'{"t": -Infinity}', "bad_json"),
    (b"1" * 5000, "bad_json"),                           # Python's int digit limit
    (b'{"a": 1', "bad_json"), (b"", "bad_json"),
    (12, "bad_json"),
])
def test_hostile_input_is_refused_by_name(data, reason):
    with pytest.raises(JsonRefused) as refused:
        loads(data, max_bytes=1000 if reason == "too_large" else 10**6, max_depth=8)
    assert refused.value.reason == reason


def test_what_fits_the_bounds_is_parsed():
    value = {"schema": "x", "records": [{"seq": 1, "reasons": ["fever"], "note": "a[b{c"}]}
    text = json.dumps(value)
    assert loads(text, max_bytes=len(text), max_depth=4) == value
    assert loads(text.encode(), max_bytes=len(text), max_depth=4) == value
    assert loads(b"[" * 8 + b"]" * 8, max_bytes=100, max_depth=8) == [[[[[[[[]]]]]]]]


def test_depth_counts_containers_only():
    assert depth(1, 3) == 0 and depth([], 3) == 1 and depth({"a": [1, {"b": {}}]}, 9) == 4
    assert depth([[[[[[]]]]]], 2) == 3          # stops counting once past the limit


def test_lone_surrogates_are_not_valid_text():
    text = loads(b'"\\ud800"', max_bytes=100)  # json lets an escaped lone surrogate in
    assert not valid_text(text) and valid_text("\u4e2d\u6587 ok")
