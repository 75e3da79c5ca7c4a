"""The scanner: decode the newest camera frame, emit one Scan per presentation of a code.

A phone held to the camera is seen in many consecutive frames; the same text seen again
within `repeat_s` of its last sighting is the same presentation and is not emitted again.
The scanner waits for frames, never spins: on a stalled camera it waits in `latest()`,
on one that has ended it waits on its own stop event.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Camera, QrDecoder
from runtime.worker import Worker

FRAME_WAIT_S = 0.5      # how long one wait for a new frame lasts
DECODE_WINDOW = 100     # frames the reported decode time is the median of


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


class Scanner:
    def __init__(self, camera: Camera, decoder: QrDecoder, emit: Callable[[Scan], None], *,
                 clock, repeat_s: float = 3.0) -> None:
        self.camera = camera
        self.decoder = decoder
        self.emit = emit
        self.clock = clock
        self.frames = 0
        self.worker = Worker("scanner", self.scan_frame, take=self._next_frame)
        self._dedup = Deduplicator(repeat_s)
        self._last_index = -1
        self._decode_ms: deque[float] = deque(maxlen=DECODE_WINDOW)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def _next_frame(self):
        frame = self.camera.latest(after=self._last_index, timeout=FRAME_WAIT_S)
        if frame is None:
            if self.camera.ended:
                self.worker.stopping.wait(FRAME_WAIT_S)
            return None
        self._last_index = frame.index
        return frame

    def scan_frame(self, frame) -> None:
        started = self.clock.monotonic()
        texts = self.decoder.decode(frame.image)
        decode_ms = (self.clock.monotonic() - started) * 1000.0
        self.frames += 1
        self._decode_ms.append(decode_ms)
        for text in texts:
            if self._dedup.is_new(text, frame.t_mono):
                self.emit(Scan(text, frame.t_mono, decode_ms))

    def counters(self) -> dict:
        median = statistics.median(self._decode_ms) if self._decode_ms else None
        return {"frames_decoded": self.frames,
                "decode_ms": None if median is None else round(median, 2)}
