"""ASCII bridge lines: the exact grammar, whole lines only, whatever the chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.thermal.ascii_bridge import MAX_LINE, Framer, LineReading, encode_line, parse_line
from tests.support.framing import assert_chunking_does_not_matter, feed_in_chunks


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


pieces = st.one_of(st.binary(max_size=12), st.sampled_from(
    [encode_line(36.62), encode_line(37.1, 22.5), b"\r\n", b"\n", b"T=", b"x" * 90]))


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=30), st.lists(st.integers(0, 10_000), max_size=40))
def test_output_does_not_depend_on_chunking(parts, cuts):
    assert_chunking_does_not_matter(Framer, b"".join(parts), cuts)


# Real lines spliced into noise must come out exactly, in order, and nothing else.
#
# Why the noise can neither form nor swallow a reading: the framer judges each whole line
# (the bytes up to a newline) on its own, so a real line is read exactly when it has a
# line to itself: every noise segment is whole lines, each ending in a newline, and the
# real lines end in one too. A noise line then yields nothing when it is not a reading:
# lines of at most MAX_LINE bytes that parse are filtered out, longer ones may be
# anything (a reading padded past MAX_LINE included), since the framer drops them
# whole. The last, unterminated part of the stream is never read at all.
# The stream goes in random chunks: the framer's output must not depend on the split.
def _short_reading(line: bytes) -> bool:
    try:
        return len(line) <= MAX_LINE and parse_line(line.decode("utf-8")) is not None
    except UnicodeDecodeError:
        return False


line_piece = st.one_of(
    st.sampled_from([b"T=", b"TO=", b"TA=", b"Object = ", b"Ambient = ", b"36.62", b"-12.5",
                     b"3662", b"999.00", b"*C", "°C".encode(), b"\t", b",", b" ", b"\r",
                     b"\xff\xfe", b"T=36.62", b"Ambient = 24.71*C\tObject = 36.62*C",
                     b" " * 40, b"0" * 45, b"x" * 90]),
    st.binary(min_size=1, max_size=8))
line_text = st.lists(line_piece, max_size=6).map(lambda parts: b"".join(parts).replace(b"\n", b""))
padded_readings = st.sampled_from([b"T=36.62" + b" " * 80, b" " * 85 + b"T=36.7\r",
                                   b"Ambient = 24.71*C\tObject = 36.62*C" + b"\t" * 50])
noise_text = st.sampled_from([False, False, False, True]).flatmap(
    lambda padded: padded_readings if padded
    else line_text.filter(lambda line: not _short_reading(line)))
noise_lines = st.lists(st.tuples(noise_text, st.sampled_from([b"\n", b"\r\n"])), max_size=3)
# (object, ambient) in 0.01 degC, ambient None for the short `T=` form.
readings = st.tuples(st.integers(-7000, 38000), st.none() | st.integers(-4000, 12500))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(noise_lines, readings), max_size=8), noise_lines, line_text,
       st.lists(st.integers(0, 10_000), max_size=20))
def test_real_lines_spliced_into_noise_come_out_exactly(segments, tail, partial, cuts):
    expected = [LineReading(o / 100, None if a is None else a / 100) for _, (o, a) in segments]
    real = [encode_line(r.object_c, r.ambient_c) for r in expected]
    noise = [b"".join(text + end for text, end in lines) for lines, _ in segments]
    stream = (b"".join(n + line for n, line in zip(noise, real, strict=True))
              + b"".join(text + end for text, end in tail) + partial)
    framer = Framer()
    got = feed_in_chunks(framer, stream, cuts)
    assert got == expected
    assert framer.frames == len(expected)
    noise_line_count = sum(len(lines) for lines, _ in segments) + len(tail)
    overlong_partial = int(len(partial) > MAX_LINE)     # dropped as soon as it is too long
    assert framer.rejected_lines == noise_line_count + overlong_partial
    framer.flush()
    assert framer.discarded == len(stream) - sum(map(len, real))
