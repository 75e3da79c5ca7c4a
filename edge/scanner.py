"""The scanner: decode the newest camera frame, emit one Scan per presentation of a code.

A phone held to the camera is seen in many consecutive frames; the same text seen again
within `repeat_s` of its last sighting is the same presentation and is not emitted again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Camera, QrDecoder
from edge.worker import Worker


@dataclass(frozen=True)
class Scan:
    text: str
    t_mono: float       # capture time of the frame the code was read in
    decode_ms: float


class Deduplicator:
    """Remembers when each text was last seen; a text is new after `repeat_s` of absence."""

    def __init__(self, repeat_s: float = 3.0) -> None:
        self.repeat_s = repeat_s
        self._last_seen: dict[str, float] = {}

    def is_new(self, text: str, now: float) -> bool:
        self._last_seen = {t: s for t, s in self._last_seen.items() if now - s <= self.repeat_s}
        new = text not in self._last_seen
        self._last_seen[text] = now
        return new


class Scanner(Worker):
    name = "scanner"

    def __init__(self, camera: Camera, decoder: QrDecoder, emit: Callable[[Scan], None], *,
                 clock, repeat_s: float = 3.0) -> None:
        super().__init__()
        self.camera = camera
        self.decoder = decoder
        self.emit = emit
        self.clock = clock
        self.frames = 0
        self._dedup = Deduplicator(repeat_s)

    def _run(self) -> None:
        last = -1
        while not self._stop.is_set():
            frame = self.camera.latest(after=last, timeout=0.2)
            if frame is None:
                continue
            last = frame.index
            self.scan_frame(frame.image, frame.t_mono)

    def scan_frame(self, image, t_mono: float) -> None:
        started = self.clock.monotonic()
        texts = self.decoder.decode(image)
        decode_ms = (self.clock.monotonic() - started) * 1000.0
        self.frames += 1
        for text in texts:
            if self._dedup.is_new(text, t_mono):
                self.emit(Scan(text, t_mono, decode_ms))
