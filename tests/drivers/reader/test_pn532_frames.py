"""The PN532 frame codec and the tap logic, on bytes written out by hand."""

from __future__ import annotations

import pytest

from drivers.reader.pn532 import Malformed, Presence, target_a_uid, thru_answer
from drivers.reader.pn532_frames import ACK, ERROR_FRAME, NACK, FrameReader, command, response

# GetFirmwareVersion as the PN532 User Manual prints it, and its answer (PN532 v1.6).
GET_FIRMWARE = bytes.fromhex("0000ff02fed4022a00")
FIRMWARE_ANSWER = bytes.fromhex("0000ff06fad50332010607e800")
NO_TARGET = bytes.fromhex("0000ff03fdd54b00e000")


def test_command_frames_carry_both_checksums():
    assert command(0x02) == GET_FIRMWARE
    assert response(0x02, bytes.fromhex("32010607")) == FIRMWARE_ANSWER


def test_every_split_of_a_stream_gives_the_same_frames():
    stream = ACK + FIRMWARE_ANSWER + b"\x55\x00\xff" + ACK + NO_TARGET
    whole = FrameReader().feed(stream)
    assert [f.kind for f in whole] == ["ack", "data", "ack", "data"]
    for cut in range(1, len(stream)):
        codec = FrameReader()
        assert codec.feed(stream[:cut]) + codec.feed(stream[cut:]) == whole


@pytest.mark.parametrize("damage, reason", [
    (lambda f: f[:4] + bytes((f[4] ^ 1,)) + f[5:], "length_checksum"),
    (lambda f: f[:-2] + bytes((f[-2] ^ 1,)) + f[-1:], "data_checksum"),
    (lambda f: f[:-3] + bytes((f[-3] ^ 1,)) + f[-2:], "data_checksum"),
    (lambda f: f[:-1] + b"\x01", "postamble"),
    (lambda f: f[:5] + b"\xd6" + f[6:-2] + bytes(((f[-2] - 1) & 0xFF,)) + f[-1:],
     "frame_identifier"),
    (lambda f: bytes.fromhex("0000ffffff0010f0") + bytes(16), "extended"),
])
def test_a_damaged_frame_is_refused_and_the_next_one_read(damage, reason):
    codec = FrameReader()
    frames = codec.feed(damage(FIRMWARE_ANSWER) + NO_TARGET)
    assert [f.data for f in frames] == [bytes.fromhex("4b00")]
    assert codec.rejected[reason] == 1


def test_a_stub_start_does_not_swallow_the_frame_after_it():
    codec = FrameReader()
    frames = codec.feed(b"\x00\x00\xff\x05\xfb\xd5" + NO_TARGET)
    assert [f.data for f in frames] == [bytes.fromhex("4b00")]
    assert codec.rejected["data_checksum"] == 1


def test_ack_nack_and_error_frames_are_told_apart():
    kinds = [f.kind for f in FrameReader().feed(ACK + NACK + ERROR_FRAME)]
    assert kinds == ["ack", "nack", "error"]


def test_a_truncated_frame_waits_then_yields_to_a_whole_one():
    codec = FrameReader()
    assert codec.feed(FIRMWARE_ANSWER[:7]) == []
    frames = codec.feed(NO_TARGET)
    assert [f.data for f in frames] == [bytes.fromhex("4b00")]


@pytest.mark.parametrize("params, uid", [
    (bytes.fromhex("00"), None),
    (bytes.fromhex("010100040804a1b2c3d4"), bytes.fromhex("a1b2c3d4")),
    (bytes.fromhex("0101004400" "07" "04112233445566"), bytes.fromhex("04112233445566")),
])
def test_type_a_targets_are_decoded(params, uid):
    assert target_a_uid(params) == uid


@pytest.mark.parametrize("params", [
    bytes.fromhex("020100040804a1b2c3d4"),      # two targets: never asked for
    bytes.fromhex("010100440804a1b2c3d4"),      # SENS_RES says 7 bytes, NFCIDLength 4
    bytes.fromhex("010100040804a1b2c3"),        # cut short
    bytes.fromhex("010100040804a1b2c3d4ff"),    # a stray byte with no ATS announced
])
def test_impossible_type_a_answers_are_malformed(params):
    with pytest.raises(Malformed):
        target_a_uid(params)


def test_communicate_thru_status():
    assert thru_answer(b"\x01") is None
    assert thru_answer(b"\x00\x08") == b"\x08"
    with pytest.raises(Malformed):
        thru_answer(b"\x40\x08")


def test_presence_taps_once_per_presentation():
    card, other = ("mifare", b"\x01\x02\x03\x04"), ("cnid", bytes(8))
    presence = Presence()
    polls = [None, card, card, card, None, card, None, None, card, card, other, other]
    taps = [poll for poll in polls if presence.saw(poll)]
    assert taps == [card, card, other]


def test_a_failed_poll_breaks_a_confirmation():
    card = ("mifare", b"\x01\x02\x03\x04")
    presence = Presence()
    assert not presence.saw(card)
    presence.unknown()
    assert not presence.saw(card)
    assert presence.saw(card)
