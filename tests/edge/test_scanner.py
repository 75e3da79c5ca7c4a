"""One Scan per presentation: a code held in front of the camera for many frames counts once."""

from __future__ import annotations

from drivers.base import Frame
from edge.scanner import Deduplicator, Scanner
from tests.support.clock import FakeClock


class ListDecoder:
    """Stands in for the camera pipeline's decoder output, frame by frame."""

    def __init__(self, frames: list[list[str]]) -> None:
        self.frames = iter(frames)

    def decode(self, image) -> list[str]:
        return next(self.frames)


def test_same_code_within_repeat_window_is_one_presentation():
    dedup = Deduplicator(repeat_s=3.0)
    assert dedup.is_new("CP1:A", 0.0)
    assert not dedup.is_new("CP1:A", 0.1)
    assert not dedup.is_new("CP1:A", 2.9)      # still held up: last seen 0.1 s... 2.9 s
    assert not dedup.is_new("CP1:A", 5.8)      # seen at 2.9, within 3 s
    assert dedup.is_new("CP1:A", 9.0)          # gone for over 3 s: a new presentation
    assert dedup.is_new("CP1:B", 9.1)


def test_scanner_emits_each_code_once_per_presentation():
    clock = FakeClock()
    frames = [[], ["CP1:A"], ["CP1:A"], ["CP1:A", "CP1:B"], [], ["CP1:B"]]
    scans = []
    scanner = Scanner(camera=None, decoder=ListDecoder(frames), emit=scans.append, clock=clock)
    for n in range(len(frames)):
        scanner.scan_frame(Frame(image=None, index=n + 1, t_mono=n / 10))
    assert [(s.text, s.t_mono) for s in scans] == [("CP1:A", 0.1), ("CP1:B", 0.3)]
    assert scanner.frames == len(frames)
