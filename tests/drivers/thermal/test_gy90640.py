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
    assert face.object_c == pytest.approx(36.6, abs=0.01) and face.near_enough
    reading = to_reading(frame, 1.0)
    assert (reading.protocol, reading.ambient_c) == ("gy-mcu90640", 25.0)
    assert reading.max_c == pytest.approx(36.6, abs=0.01)


def test_a_person_too_far_gives_the_scene_not_a_face():
    far = encode_frame(scene_pixels(36.6, 0.1, random.Random(3)), 25.0)
    (frame,) = Framer().feed(far)
    face = face_estimate(frame)
    assert not face.near_enough and face.object_c < 25.0 and face.max_c > 36.0


def test_a_hot_cup_is_not_the_face_when_a_bigger_face_is_there():
    pixels = scene_pixels(36.4, 1.0, random.Random(4))
    for i in (0, 1, 32, 33):                 # a small 41 degC spot in a corner
        pixels[i] = 41.0
    (frame,) = Framer().feed(encode_frame(pixels, 25.0))
    assert face_estimate(frame).object_c == pytest.approx(36.4, abs=0.01)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


pieces = st.one_of(
    st.binary(max_size=16),
    st.sampled_from([GOOD, OTHER, GOOD[:800], gy90640.HEADER, b"\x5a", b"\x5a\x5a",
                     gy90640.encode_emissivity(95), GOOD[:50] + GOOD[51:]]))


@settings(max_examples=150, deadline=None)
@given(st.lists(pieces, max_size=8), st.lists(st.integers(0, 20_000), max_size=30))
def test_output_does_not_depend_on_chunking(parts, cuts):
    stream = b"".join(parts)
    whole = Framer()
    expected = whole.feed(stream)
    chunked = Framer()
    got = [frame for chunk in _chunks(stream, cuts) for frame in chunked.feed(chunk)]
    assert got == expected
    assert chunked.stats() == whole.stats()


noisy = st.lists(st.one_of(st.sampled_from([0x5A, 0x02, 0x06, 0x5F]), st.integers(0, 255)),
                 max_size=3000).map(bytes)


@settings(max_examples=200, deadline=None)
@given(noisy, st.sampled_from([b"", gy90640.HEADER]))
def test_random_bytes_never_yield_an_unverified_frame(data, prefix):
    for found in Framer().feed(prefix + data):
        if isinstance(found, ArrayFrame):
            raw = encode_frame(list(found.pixels), found.ambient_c)
            assert raw in prefix + data
        else:
            value = round(found.emissivity * 100)
            assert gy90640.encode_emissivity(value) in prefix + data
