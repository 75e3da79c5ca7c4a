"""GY-MCU90640 bytes: commands, 1544-byte frames, the word checksum, the face estimate."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.sim.thermal_speakers import scene_pixels
from drivers.thermal import gy90640
from drivers.thermal.face import face_estimate, to_reading
from drivers.thermal.gy90640 import ArrayFrame, EmissivityReply, Framer, encode_frame
from tests.support.framing import assert_chunking_does_not_matter, feed_in_chunks


def flat(value: float) -> list[float]:
    return [value] * gy90640.PIXELS


GOOD = encode_frame(scene_pixels(36.6, 1.0, random.Random(1)), 25.0)
OTHER = encode_frame(scene_pixels(37.9, 1.0, random.Random(2)), 26.5)


def ambients(data: bytes, framer: Framer | None = None) -> list[float]:
    framer = framer or Framer()
    return [f.ambient_c for f in framer.feed(data) if isinstance(f, ArrayFrame)]


def test_command_bytes_match_the_datasheet():
    expected = {(gy90640.CMD_RATE, 0): "A52500CA", (gy90640.CMD_RATE, 4): "A52504CE",
                (gy90640.CMD_MODE, 1): "A53501DB", (gy90640.CMD_MODE, 2): "A53502DC",
                (gy90640.CMD_BAUD, 1): "A51501BB", (gy90640.CMD_BAUD, 3): "A51503BD",
                (gy90640.CMD_QUERY_EMISSIVITY, 1): "A55501FB", (gy90640.CMD_SAVE, 1): "A565010B"}
    for (code, arg), text in expected.items():
        assert gy90640.command(code, arg) == bytes.fromhex(text)


def test_frame_layout():
    frame = encode_frame(flat(36.6), 25.0)
    assert len(frame) == 1544 and frame[:4] == bytes.fromhex("5A5A0206")
    assert struct.unpack_from("<h", frame, 1540)[0] == 2500
    words = struct.unpack_from("<771H", frame)
    assert struct.unpack_from("<H", frame, 1542)[0] == sum(words) % 65536


def test_pixels_are_unmirrored_row_by_row():
    sent = [float(20 + (i % 32)) for i in range(gy90640.PIXELS)]   # each row 20..51
    (frame,) = Framer().feed(encode_frame(sent, 25.0))
    assert frame.image()[0][:3] == [51.0, 50.0, 49.0] and frame.max_c == 51.0
    assert len(frame.image()) == 24 and all(len(row) == 32 for row in frame.image())


def test_emissivity_reply_is_framed():
    assert Framer().feed(gy90640.encode_emissivity(95) + GOOD)[0] == EmissivityReply(0.95)


def test_pixels_of_34_18_do_not_lock_the_parser():
    frame = encode_frame(flat(34.18), 25.0)
    assert frame[4:6] == b"\x5a\x0d"
    assert ambients(frame + b"\x5a" + frame + frame[:700] + frame) == [25.0] * 3


@pytest.mark.parametrize("damage", [
    b"GY-MCU90640 v2.0\r\n",                                # boot banner
    gy90640.HEADER + b"\x5a" * 40,                          # fake header
    GOOD[:772],                                             # truncated frame
    GOOD[:100] + GOOD[101:],                                # dropped byte
    GOOD[:900] + bytes((GOOD[900] ^ 0x04,)) + GOOD[901:],   # bit flip
    GOOD[:-2] + b"\x00\x00",                                # checksum lost
])
def test_damage_then_the_next_good_frame_is_read(damage):
    framer = Framer()
    assert ambients(GOOD + damage + OTHER, framer) == [25.0, 26.5]
    assert framer.discarded >= 1


def test_checksum_that_holds_but_values_impossible_is_refused():
    framer = Framer()
    assert ambients(encode_frame(flat(-41.0), 25.0) + GOOD, framer) == [25.0]
    assert framer.implausible == 1


def test_face_estimate_is_the_hottest_pixels_of_the_largest_skin_blob():
    (frame,) = Framer().feed(GOOD)
    face = face_estimate(frame)
    assert face.object_c == pytest.approx(36.6, abs=0.01)
    assert face.face_pixels >= gy90640.MIN_FACE_PIXELS
    reading = to_reading(frame, 1.0)
    assert (reading.protocol, reading.ambient_c) == ("gy-mcu90640", 25.0)
    assert reading.max_c == pytest.approx(36.6, abs=0.01)


def test_a_person_too_far_gives_the_scene_not_a_face():
    far = encode_frame(scene_pixels(36.6, 0.1, random.Random(3)), 25.0)
    (frame,) = Framer().feed(far)
    face = face_estimate(frame)
    assert face.face_pixels < gy90640.MIN_FACE_PIXELS and face.object_c < 25.0 and face.max_c > 36.0


def test_a_hot_cup_is_not_the_face_when_a_bigger_face_is_there():
    pixels = scene_pixels(36.4, 1.0, random.Random(4))
    for i in (0, 1, 32, 33):                 # a small 41 degC spot in a corner
        pixels[i] = 41.0
    (frame,) = Framer().feed(encode_frame(pixels, 25.0))
    assert face_estimate(frame).object_c == pytest.approx(36.4, abs=0.01)


pieces = st.one_of(
    st.binary(max_size=16),
    st.sampled_from([GOOD, OTHER, GOOD[:800], gy90640.HEADER, b"\x5a", b"\x5a\x5a",
                     gy90640.encode_emissivity(95), GOOD[:50] + GOOD[51:]]))


@settings(max_examples=150, deadline=None)
@given(st.lists(pieces, max_size=8), st.lists(st.integers(0, 20_000), max_size=30))
def test_output_does_not_depend_on_chunking(parts, cuts):
    assert_chunking_does_not_matter(Framer, b"".join(parts), cuts)


# Real frames and emissivity replies spliced into noise must come out exactly, in order.
#
# Why the noise can neither form nor swallow one: the framer only looks at a candidate
# starting 5A 5A, and from its next two bytes a b either takes the 1544-byte frame
# (a b = 02 06), takes a reply (1 <= a <= 100 and b == sum8(5A 5A a), i.e. 0xB4 + a),
# or drops one byte. `_defused` spoils b wherever both are still noise and would be
# taken. Where they run into the next real item, which starts 5A 5A, the framer reads
# one of `5A 5A a | 5A` (a reply only if a == 0xA6, not 1..100), `5A 5A | 5A 5A`
# (0x5A = 90 is in range, but sum8 is 0x0E, not 0x5A) or `5A | 5A 5A 02`: all dropped,
# so a segment may end in any number of 0x5A. The one exception: `5A | 5A 5A 0E`, a
# stray 0x5A before a reply of 0.14, is itself a valid reply of 0.90 and takes the real
# one's first three bytes, so the spliced replies leave 14 out. A candidate never gets
# to the word checksum or the range check, as no noise holds 5A 5A 02 06.
# The stream goes in random chunks: the framer's output must not depend on the split.
def _taken(a: int, b: int) -> bool:
    return (a, b) == (0x02, 0x06) or (1 <= a <= 100 and b == (0xB4 + a) & 0xFF)


def _defused(data: bytes) -> bytes:
    """`data` with every 5A 5A a b inside it that the framer would take spoilt."""
    out = bytearray(data)
    for i in range(len(out) - 3):
        if out[i] == out[i + 1] == 0x5A and _taken(out[i + 2], out[i + 3]):
            out[i + 3] = 0xA5       # never taken; b was not 0x5A, nor is 0xA5
    return bytes(out)


# Bytes biased toward header and reply bytes (5F 13 ends a 0.95 reply), near-misses
# (replies of 0 and 1.01 whose sum8 holds), and segments that mostly end in 0x5A.
noise_piece = st.one_of(
    st.sampled_from([0x5A, 0x02, 0x06, 0x5F, 0x13]).map(lambda b: bytes((b,))),
    st.binary(min_size=1, max_size=6),
    st.sampled_from([b"\x5a\x5a", b"\x5a\x5a\x02", gy90640.HEADER,
                     gy90640.encode_emissivity(95), b"\x5a\x5a\x00\xb4", b"\x5a\x5a\x65\x19"]))
noise = st.builds(lambda body, tail: _defused(b"".join(body) + b"\x5a" * tail),
                  st.lists(noise_piece, max_size=25), st.integers(0, 2))


def _frame_item(pixels: list[float], ambient_c: float) -> tuple[bytes, ArrayFrame]:
    centi = [round(v * 100) for v in pixels]
    return (encode_frame(pixels, ambient_c),
            ArrayFrame(tuple(c / 100 for c in centi), round(ambient_c * 100) / 100))


def _scene_item(object_centi: int, nearness: float, seed: int, ambient_centi: int):
    pixels = scene_pixels(object_centi / 100, nearness, random.Random(seed))
    return _frame_item(pixels, ambient_centi / 100)


SPECIAL_FRAMES = [
    _frame_item(flat(34.18), 25.0),                                 # pixels 5A 0D
    _frame_item([-40.0, 300.0] * (gy90640.PIXELS // 2), 125.0),     # the range's ends
    _frame_item([231.3] * gy90640.PIXELS, -40.0),                   # pixels 5A 5A
]
items = st.one_of(
    st.sampled_from(SPECIAL_FRAMES),
    st.builds(_scene_item, st.integers(2000, 4200), st.floats(0.0, 1.0), st.integers(0, 99),
              st.integers(-4000, 12500)),
    st.integers(1, 100).filter(lambda v: v != 0x0E).map(
        lambda v: (gy90640.encode_emissivity(v), EmissivityReply(v / 100))))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(noise, items), max_size=6), noise,
       st.lists(st.integers(0, 12_000), max_size=20))
def test_real_frames_spliced_into_noise_come_out_exactly(segments, tail, cuts):
    stream = b"".join(n + raw for n, (raw, _) in segments) + tail
    expected = [item for _, (_, item) in segments]
    framer = Framer()
    got = feed_in_chunks(framer, stream, cuts)
    assert got == expected
    assert framer.frames == sum(isinstance(item, ArrayFrame) for item in expected)
    assert framer.replies == sum(isinstance(item, EmissivityReply) for item in expected)
    assert framer.checksum_failures == framer.implausible == 0
    framer.flush()
    assert framer.discarded == len(stream) - sum(len(raw) for _, (raw, _) in segments)
