"""JSON from a hostile channel, at a bounded cost, before anything else looks at it.

Every inbound message (bundle envelopes and payloads, acks, batches, status) is read with
`loads`: its size is checked before parsing, nesting deeper than `max_depth` is refused
(the standard parser would raise RecursionError, which is not a ValueError, or hand
10^5-deep lists to code that recurses), and NaN / Infinity, which are not JSON, are
refused. Every failure is a `JsonRefused` with a stable reason code, so a caller catches
one exception type and logs one named refusal.

    loads(payload, max_bytes=64 * 1024, max_depth=8)
"""

from __future__ import annotations

import json

MAX_DEPTH = 16      # our formats nest at most 5 levels; room for extensions


class JsonRefused(ValueError):
    """A message refused before use; `reason` is a snake_case code for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _no_constant(name: str):
    raise JsonRefused("bad_json", f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def loads(data: bytes | bytearray | str, *, max_bytes: int, max_depth: int = MAX_DEPTH):
    """The JSON value in `data`; JsonRefused(too_large | not_utf8 | bad_json | too_deep)."""
    if not isinstance(data, bytes | bytearray | str):
        raise JsonRefused("bad_json", f"a {type(data).__name__}, not bytes or text")
    if len(data) > max_bytes:
        raise JsonRefused("too_large", f"{len(data)} bytes, at most {max_bytes}")
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("not_utf8") from None
    try:
        value = _DECODER.decode(data)
    except RecursionError:
        raise JsonRefused("too_deep", "nesting beyond the parser's stack") from None
    except JsonRefused:
        raise
    except ValueError as exc:       # JSONDecodeError, and ints of over 4300 digits
        raise JsonRefused("bad_json", str(exc)[:120]) from None
    if depth(value, max_depth) > max_depth:
        raise JsonRefused("too_deep", f"nesting beyond {max_depth} levels")
    return value


def depth(value, limit: int) -> int:
    """How deeply `value` nests (a scalar is 0), counted level by level without recursion;
    stops once past `limit`. Only containers go to the next level (json makes exactly
    dict and list, hence the `type` tests, which are the fast ones)."""
    level, frontier = 0, [value] if type(value) in (dict, list) else []
    while frontier:
        level += 1
        if level > limit:
            return level
        below: list = []
        for item in frontier:
            children = item.values() if type(item) is dict else item
            below.extend([c for c in children if type(c) is dict or type(c) is list])
        frontier = below
    return level


def valid_text(text: str) -> bool:
    """Text that encodes as UTF-8: no lone surrogates (json.loads lets "\\ud800" through,
    and SQLite, PostgreSQL and the log all refuse it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
