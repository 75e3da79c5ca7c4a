"""One Scan per presentation, and only of texts the scanner is sure of: a code held in front
of the camera for many frames counts once; a text that is no pass and was read without
error-correction margin (how a misread looks) waits for a second frame to agree."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.base import Frame
from drivers.qr import FIRST, QUICK, Read
from edge.scanner import Confirmer, Deduplicator, Scanner, certain, is_pass
from models import cp1
from tests.support.clock import FakeClock

KEY = ec.generate_private_key(ec.SECP256R1())


def a_pass(**claims) -> str:
    return cp1.issue_cp1(KEY, iss="CN-BJ-110105", color="green", iat=1_790_000_000,
                         exp=1_790_000_120, sub=os.urandom(16), cti=os.urandom(16), **claims)


PASS_A, PASS_B = a_pass(), a_pass(name="张明")
MISREAD = Read("058646", FIRST, margin=0.0)      # a Micro QR M1 "found" inside a QR code


class ListDecoder:
    """Stands in for the camera pipeline's decoder output, frame by frame: texts only."""

    def __init__(self, frames: list[list[str]]) -> None:
        self.frames = iter(frames)

    def decode(self, image) -> list[str]:
        return next(self.frames)


class ReadsDecoder:
    """A pipeline decoder's output, frame by frame: each text with how it was read."""

    def __init__(self, frames: list[list[Read]]) -> None:
        self.frames = iter(frames)

    def reads(self, image) -> list[Read]:
        return next(self.frames)

    def decode(self, image) -> list[str]:
        raise AssertionError("the scanner asks for reads when the decoder has them")


def run(decoder, count: int, repeat_s: float = 3.0, step_s: float = 0.1) -> list:
    scans = []
    scanner = Scanner(camera=None, decoder=decoder, emit=scans.append, clock=FakeClock(),
                      repeat_s=repeat_s)
    for n in range(count):
        scanner.scan_frame(Frame(image=None, index=n + 1, t_mono=round(n * step_s, 6)))
    assert scanner.frames == count
    return [(s.text, s.t_mono, s.confirmed) for s in scans]


def test_same_code_within_repeat_window_is_one_presentation():
    dedup = Deduplicator(repeat_s=3.0)
    assert dedup.is_new("CP1:A", 0.0)
    assert not dedup.is_new("CP1:A", 0.1)
    assert not dedup.is_new("CP1:A", 2.9)      # still held up: last seen 0.1 s... 2.9 s
    assert not dedup.is_new("CP1:A", 5.8)      # seen at 2.9, within 3 s
    assert dedup.is_new("CP1:A", 9.0)          # gone for over 3 s: a new presentation
    assert dedup.is_new("CP1:B", 9.1)


def test_scanner_emits_each_pass_once_per_presentation_from_its_first_frame():
    frames = [[], [PASS_A], [PASS_A], [PASS_A, PASS_B], [], [PASS_B]]
    assert run(ListDecoder(frames), len(frames)) == [(PASS_A, 0.1, False), (PASS_B, 0.3, False)]


def test_a_misread_like_text_in_one_frame_is_not_emitted():
    frames = [[Read(PASS_A, FIRST, 1.0), MISREAD], [Read(PASS_A, FIRST, 1.0)], []]
    assert run(ReadsDecoder(frames), len(frames)) == [(PASS_A, 0.0, False)]


def test_the_same_uncertain_text_in_a_second_frame_is_emitted_once_marked_confirmed():
    frames = [[MISREAD], [], [MISREAD], [MISREAD], [MISREAD]]
    assert run(ReadsDecoder(frames), len(frames)) == [("058646", 0.2, True)]


def test_a_second_sighting_after_the_repeat_window_confirms_nothing():
    frames = [[MISREAD], [MISREAD], [Read("HELLO", "crop", 1.0)], [Read("HELLO", "crop", 1.0)]]
    assert run(ReadsDecoder(frames), len(frames), repeat_s=3.0, step_s=4.0) == []


def test_texts_from_decoders_without_reads_are_certain_only_as_passes():
    frames = [["WIFI:S:gate;;", PASS_A], ["WIFI:S:gate;;"]]
    assert run(ListDecoder(frames), len(frames)) == [(PASS_A, 0.0, False),
                                                       ("WIFI:S:gate;;", 0.1, True)]


@pytest.mark.parametrize("read, sure", [
    (Read(PASS_A, FIRST, 1.0), True),
    (Read(PASS_A, "crop-zbar"), True),              # a pass vouches for itself, any try
    (Read(PASS_B, QUICK, 0.0), True),
    (Read("https://example.org/menu", FIRST, 0.66), True),     # spare error correction
    (Read("https://example.org/menu", FIRST, 0.4), False),
    (Read("https://example.org/menu", QUICK, 1.0), False),     # a later try: no
    (Read("https://example.org/menu", "zbar"), False),         # zbar reports no margin
    (MISREAD, False),
    (Read(PASS_A[:-9], "zbar"), False),             # truncated: zlib stream incomplete
    (Read("CP1:" + PASS_A[4:][::-1], "sharpened"), False),      # mirrored body
])
def test_certainty_rule(read, sure):
    assert certain(read) is sure


@pytest.mark.parametrize("text", ["", "CP1:", "HC1:", "CP1:%%%", "CP1:" + "A" * 9000,
                                  "HC1:NCFOXN%TS3DH", "\x00\udcff"])
def test_no_text_makes_the_structural_check_raise(text):
    assert is_pass(text) is False


def test_confirmer_needs_a_second_frame_within_its_window():
    confirmer = Confirmer(window_s=1.0)
    assert not confirmer.confirms("X", 0.0)
    assert confirmer.confirms("X", 0.9)
    assert confirmer.confirms("X", 1.8)        # last seen at 0.9: still within 1 s
    assert not confirmer.confirms("X", 5.0)    # forgotten: starts over
