"""GY-MCU90614 bytes: commands, frames, and a framer that survives any garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.thermal import gy90614
from drivers.thermal.gy90614 import CommandParser, Framer, encode_frame
from tests.support.framing import assert_chunking_does_not_matter, feed_in_chunks

VENDOR_FRAME = bytes.fromhex("5A5A45040C780D19A7")
GOOD = encode_frame(36.62, 24.5)


def temperatures(data: bytes, framer: Framer | None = None) -> list[tuple[float, float]]:
    framer = framer or Framer()
    return [frame.temperatures() for frame in framer.feed(data)]


def test_command_bytes_match_the_datasheet():
    expected = {gy90614.CMD_CONTINUOUS: "A545EA", gy90614.CMD_QUERY: "A515BA",
                gy90614.CMD_AUTOSTART_ON: "A551F6", gy90614.CMD_AUTOSTART_OFF: "A552F7",
                gy90614.CMD_BAUD_9600: "A5AE53", gy90614.CMD_BAUD_115200: "A5AF54"}
    for code, text in expected.items():
        assert gy90614.command(code) == bytes.fromhex(text)


def test_vendor_example_decodes_and_encodes():
    assert temperatures(VENDOR_FRAME) == [(31.92, 33.53)]
    assert encode_frame(31.92, 33.53) == VENDOR_FRAME


@pytest.mark.parametrize("object_c, ambient_c", [(36.6, 25.0), (-40.0, -12.34), (0.0, 85.0),
                                                 (327.67, 125.0), (-70.0, -40.0)])
def test_round_trip(object_c, ambient_c):
    assert temperatures(encode_frame(object_c, ambient_c)) == [(object_c, ambient_c)]


def test_out_of_range_value_is_refused():
    with pytest.raises(ValueError, match="16-bit"):
        encode_frame(400.0, 25.0)


def test_reading_with_a_5a_byte_does_not_lock_the_parser():
    frame = encode_frame(34.18, 25.0)
    assert frame[4:6] == b"\x0d\x5a"
    stream = frame + b"\x5a" + frame + frame[:6] + frame + frame
    assert temperatures(stream) == [(34.18, 25.0)] * 4


def test_stub_followed_by_a_frame_is_not_taken_for_a_frame():
    # 5A 5A 45 04 0E + 5A 5A 45 04 passes sum8 by construction; the die reads 231 degC.
    framer = Framer()
    assert temperatures(GOOD[:5] + GOOD, framer) == [(36.62, 24.5)]
    assert framer.implausible == 1


def test_checksum_failure_is_rejected_and_counted():
    bad = bytearray(VENDOR_FRAME)
    bad[-1] ^= 0x01
    framer = Framer()
    assert temperatures(bytes(bad), framer) == []
    assert framer.checksum_failures == 1
    assert temperatures(VENDOR_FRAME, framer) == [(31.92, 33.53)]



@pytest.mark.parametrize("damage", [
    b"GY-MCU90614 V1.3 ready\r\n",                  # boot banner
    b"\x5a\x5a\x45\x04\x5a",                        # fake header
    GOOD[:5],                                       # truncated frame
    GOOD[:3] + GOOD[4:],                            # dropped byte
    GOOD[:6] + bytes((GOOD[6] ^ 0x10,)) + GOOD[7:],  # bit flip
    b"\x5a\x5a\x45\xff" + b"\x00" * 300,            # absurd length
    b"\x5a\x5a\x99\x04\x01\x02\x03\x04\x4f",        # unknown type
])
def test_damage_then_the_next_good_frame_is_read(damage):
    framer = Framer()
    assert temperatures(GOOD + damage + GOOD, framer) == [(36.62, 24.5)] * 2
    assert framer.discarded >= 1


@pytest.mark.parametrize("device_id, discarded", [(b"\x01", 5), (b"\x5a", 4)])
def test_trailing_id_byte_from_some_firmware_is_skipped(device_id, discarded):
    framer = Framer()
    assert temperatures((GOOD + device_id) * 5, framer) == [(36.62, 24.5)] * 5
    assert framer.discarded == discarded     # a last 0x5A waits: it may start a header


def test_other_frame_types_pass_through_without_a_reading():
    body = b"\x5a\x5a\x25\x01\x5f"
    emissivity = body + bytes((sum(body) & 0xFF,))
    frames = Framer().feed(emissivity + GOOD)
    assert [f.kind for f in frames] == [gy90614.TYPE_EMISSIVITY, gy90614.TYPE_TEMPERATURE]
    assert gy90614.to_reading(frames[0], 1.0) is None
    reading = gy90614.to_reading(frames[1], 1.0)
    assert (reading.object_c, reading.protocol) == (36.62, "gy-mcu90614")


def test_command_parser_skips_noise():
    stream = b"\x00\xa5\xa5\x45\xea\x12\xa5\x15\x00" + gy90614.command(gy90614.CMD_QUERY)
    assert CommandParser().feed(stream) == [gy90614.CMD_CONTINUOUS, gy90614.CMD_QUERY]


pieces = st.one_of(st.binary(max_size=12), st.sampled_from([
    GOOD, encode_frame(34.18, 23.0), VENDOR_FRAME, b"\x5a\x5a", b"\x5a", b"\x5a\x5a\x45\x04"]),
    st.builds(lambda t: encode_frame(t / 100, 25.0), st.integers(-4000, 12000)))


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=30), st.lists(st.integers(0, 10_000), max_size=40))
def test_output_does_not_depend_on_chunking(parts, cuts):
    assert_chunking_does_not_matter(Framer, b"".join(parts), cuts)


# Real frames spliced into noise must come out exactly, in order, and nothing else.
#
# Why the noise can neither form nor swallow a frame: the framer only ever looks at a
# candidate starting 5A 5A, and drops exactly one byte when its type and length bytes are
# not a documented pair (45 with length 4, 25 or 35 with length 1..8), before it waits for
# a length's worth of bytes or checks a sum. `_defused` lets a noise segment hold 5A 5A
# only where the type and length bytes after it, if both are still noise, are not such a
# pair. Where they run into the real frame the next byte read is that frame's 0x5A, and
# 0x5A is neither a type nor a plausible length: `5A | 5A 5A 45`, `5A 5A | 5A 5A` and
# `5A 5A 45 | 5A 5A` are all rejected, so a segment may end in any number of 0x5A or in a
# header with a type. The next candidate is then the real frame, which holds in full. No
# candidate ever gets as far as the checksum or the range check.
# The stream goes in random chunks: the framer's output must not depend on the split.
def _documented(kind: int, length: int) -> bool:
    if kind == gy90614.TYPE_TEMPERATURE:
        return length == gy90614.TEMPERATURE_DATA_LEN
    return kind in (gy90614.TYPE_EMISSIVITY, gy90614.TYPE_OFFSET) and 1 <= length <= 8


def _defused(data: bytes) -> bytes:
    """`data` with the length byte of every documented-looking 5A 5A header spoilt."""
    out = bytearray(data)
    for i in range(len(out) - 3):
        if out[i] == out[i + 1] == 0x5A and _documented(out[i + 2], out[i + 3]):
            out[i + 3] = 0xFF       # neither 1..8 nor 0xFF is 0x5A: no 5A 5A comes or goes
    return bytes(out)


# Bytes biased toward header, type and length values, so near-candidates are common;
# most segments end in 0x5A, right before the next real frame.
noise_piece = st.one_of(
    st.sampled_from([0x5A, 0x45, 0x25, 0x35, 0x04, 0x01]).map(lambda b: bytes((b,))),
    st.binary(min_size=1, max_size=4),
    st.sampled_from([b"\x5a\x5a", b"\x5a\x5a\x45", b"\x5a\x5a\x25", b"\x5a\x5a\x35"]))
noise = st.builds(lambda body, tail: _defused(b"".join(body) + b"\x5a" * tail),
                  st.lists(noise_piece, max_size=20), st.integers(0, 2))
# (object, ambient) in 0.01 degC; 34.18 is 0D 5A, 231.30 is 5A 5A and 23.94 is 09 5A.
readings = st.one_of(
    st.sampled_from([(3418, 2500), (23130, 2394), (3662, 2450), (3192, 3353)]),
    st.tuples(st.integers(-7000, 32767), st.integers(-4000, 12500)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(noise, readings), max_size=12), noise,
       st.lists(st.integers(0, 10_000), max_size=20))
def test_real_frames_spliced_into_noise_come_out_exactly(segments, tail, cuts):
    expected = [(o / 100, a / 100) for _, (o, a) in segments]
    frames = [encode_frame(o, a) for o, a in expected]
    stream = b"".join(n + f for (n, _), f in zip(segments, frames, strict=True)) + tail
    framer = Framer()
    got = feed_in_chunks(framer, stream, cuts)
    assert [frame.temperatures() for frame in got] == expected
    assert framer.frames == len(expected)
    assert framer.checksum_failures == framer.implausible == 0
    framer.flush()
    assert framer.discarded == len(stream) - sum(map(len, frames))
