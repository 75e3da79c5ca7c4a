"""ASCII bridge lines: the exact grammar, whole lines only, whatever the chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.thermal.ascii_bridge import MAX_LINE, Framer, LineReading, encode_line, parse_line


@pytest.mark.parametrize("line, expected", [
    ("T=36.62\r\n", LineReading(36.62, None)),
    ("Object = 36.62*C\r\n", LineReading(36.62, None)),
    ("Ambient = 24.71*C\tObject = 36.62*C\r\n", LineReading(36.62, 24.71)),
    ("Object = 36.62*C\tAmbient = 24.71*C", LineReading(36.62, 24.71)),
    ("TA=20.1, TO=36.60", LineReading(36.6, 20.1)),
    ("T=-12.5", LineReading(-12.5, None)),
])
def test_reading_lines(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", [
    "T=36.6T=36.62",            # a line cut short ran into the next
    "T=3662",                   # the decimal point was lost
    "Ambient = 24.71*C",        # no object temperature
    "T=36.62 garbage", "MLX90614 bridge ready", "", "T=", "T=999.00",
    "Object = 3Ambient = 25.00*C\tObject = 36.01*C", "T=36.62\tT=36.70",
])
def test_anything_else_is_refused(line):
    assert parse_line(line) is None


def test_framer_keeps_whole_reading_lines_only():
    framer = Framer()
    stream = (b"MLX90614 bridge ready\r\n" + encode_line(36.62) + b"T=36.6"
              + encode_line(36.7, 24.0) + b"\xff\xfe\r\n" + encode_line(36.8))
    assert framer.feed(stream) == [LineReading(36.62, None), LineReading(36.8, None)]
    assert framer.rejected_lines == 3


def test_a_line_longer_than_any_reading_is_dropped_whole():
    framer = Framer()
    assert framer.feed(b"T=36.62" + b"0" * (MAX_LINE + 5)) == []
    assert framer.feed(b"1234\r\n" + encode_line(36.5)) == [LineReading(36.5, None)]
    assert framer.rejected_lines == 1


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


pieces = st.one_of(st.binary(max_size=12), st.sampled_from(
    [encode_line(36.62), encode_line(37.1, 22.5), b"\r\n", b"\n", b"T=", b"x" * 90]))


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=30), st.lists(st.integers(0, 10_000), max_size=40))
def test_output_does_not_depend_on_chunking(parts, cuts):
    stream = b"".join(parts)
    whole = Framer()
    expected = whole.feed(stream)
    chunked = Framer()
    got = [frame for chunk in _chunks(stream, cuts) for frame in chunked.feed(chunk)]
    assert got == expected
    assert chunked.stats() == whole.stats()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_yield_only_grammatical_lines(data):
    for reading in Framer().feed(data):
        assert any(parse_line(line.decode("utf-8", "replace")) == reading
                   for line in data.split(b"\n"))
