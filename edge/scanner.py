"""The scanner: decode the newest camera frame, emit one Scan per presentation of a code.

A phone held to the camera is seen in many consecutive frames; the same text seen again
within `repeat_s` of its last sighting is the same presentation and is not emitted again.
The scanner waits for frames, never spins: on a stalled camera it waits in `latest()`,
on one that has ended it waits on its own stop event.

A text is emitted from the frame it is first read in only when it is certain (see
`certain`); any other text waits until a second frame of the same presentation (within
`repeat_s`) reads it again. A misread is one frame's accident: the same wrong text twice
has not been seen in soaks of 10^4 presentations (docs/reading.md).
"""

from __future__ import annotations

import functools
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Camera, QrDecoder
from drivers.qr import FIRST, Read
from models.verify import open_message, split_prefix
from runtime.worker import Worker

FRAME_WAIT_S = 0.5      # how long one wait for a new frame lasts
DECODE_WINDOW = 100     # frames the reported decode time is the median of
MIN_MARGIN = 0.5        # of a symbol's error correction left unused, for a non-pass text


@dataclass(frozen=True)
class Scan:
    text: str
    t_mono: float       # capture time of the frame the code was read in
    decode_ms: float
    confirmed: bool = False     # emitted only when a second frame read the same text


def certain(read: Read) -> bool:
    """Trusted from one frame: a structurally sound pass (its zlib checksum and exact COSE
    structure vouch for every character, whichever try read it), or any text zxing-cpp's
    first pass read with at least `MIN_MARGIN` of its error correction to spare. zbar and
    the later tries report no margin; Micro QR's smallest versions have none at all."""
    if is_pass(read.text):
        return True
    return read.step == FIRST and read.margin is not None and read.margin >= MIN_MARGIN


@functools.lru_cache(maxsize=64)
def is_pass(text: str) -> bool:
    """Prefix, Base45, bounded zlib and COSE_Sign1 as the verifier reads them; no key, no
    claims. Cached: a phone held up is read in dozens of frames."""
    try:
        fmt, body = split_prefix(text)
        open_message(body, fmt)
    except Exception:   # whatever a stranger's code makes the parsers do, it is no pass
        return False
    return True


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


class Confirmer:
    """Texts not certain from one frame: a text is confirmed when read again within
    `window_s` of its previous sighting, in a later frame."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self._last_seen: dict[str, float] = {}

    def confirms(self, text: str, now: float) -> bool:
        """Called once per frame that read `text`; True from its second such frame on."""
        self._last_seen = {t: s for t, s in self._last_seen.items() if now - s <= self.window_s}
        seen = text in self._last_seen
        self._last_seen[text] = now
        return seen


class Scanner:
    def __init__(self, camera: Camera, decoder: QrDecoder, emit: Callable[[Scan], None], *,
                 clock, repeat_s: float = 3.0) -> None:
        self.camera = camera
        self.decoder = decoder
        self.emit = emit
        self.clock = clock
        self.frames = 0
        # each frame's decode time in ms, for the metrics histogram (edge/metrics.py)
        self.decode_listeners: list[Callable[[float], None]] = []
        self.worker = Worker("scanner", self.scan_frame, take=self._next_frame)
        self._dedup = Deduplicator(repeat_s)
        self._confirmer = Confirmer(repeat_s)
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
        reads = self._reads(frame.image)
        decode_ms = (self.clock.monotonic() - started) * 1000.0
        self.frames += 1
        self._decode_ms.append(decode_ms)
        for listener in self.decode_listeners:
            listener(decode_ms)
        for read in reads:
            sure = certain(read)
            if not sure and not self._confirmer.confirms(read.text, frame.t_mono):
                continue
            if self._dedup.is_new(read.text, frame.t_mono):
                self.emit(Scan(read.text, frame.t_mono, decode_ms, confirmed=not sure))

    def _reads(self, image) -> list[Read]:
        """The decoder's reads, one per text. A decoder without `reads` (zxing-cpp or zbar
        alone) says nothing of how it read, so only a pass is certain from it."""
        if hasattr(self.decoder, "reads"):
            return self.decoder.reads(image)
        return [Read(text, step="") for text in dict.fromkeys(self.decoder.decode(image))]

    def counters(self) -> dict:
        median = statistics.median(self._decode_ms) if self._decode_ms else None
        return {"frames_decoded": self.frames,
                "decode_ms": None if median is None else round(median, 2)}
