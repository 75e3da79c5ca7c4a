"""A simulated serial thermal sensor on a real pseudo-terminal, speaking the exact bytes.

The real driver (pyserial, framer, checksums, autodetect) talks to it as to a USB serial
adapter. Bytes leave at the line's pace (10 bits a byte at the simulator's baud). A pty
does not enforce a line speed, so the simulator reads the speed the client configured
(termios on its side of the pty) and, like a real UART at the wrong rate, sends garbled
bytes and misreads commands when it differs from its own baud. Faults are injected on
demand or every few frames; a journal says which frames left intact, for the tests.
"""

from __future__ import annotations

import os
import random
import select
import termios
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import DriverError
from drivers.sim.pty_device import PtyDevice
from drivers.sim.thermal_profiles import (
    PROFILES,
    WALK_PERIOD_S,
    nearness_at,
    person_c,
    profile_temperature,
)
from drivers.sim.thermal_speakers import SEND_FRAME, SPEAKERS, speaker_for
from drivers.thermal import gy90614

FAULTS = ("drop_byte", "bit_flip", "fake_header", "truncated", "banner", "reading_5a",
          "silence")
# Faults after which the frame itself still arrives whole (and must be read).
INTACT_FAULTS = ("fake_header", "banner", "reading_5a", "silence")
FAULT_PROFILE_FRAMES = 5        # the `fault` profile falls silent after this many frames
SILENCE_S = 1.5
JOURNAL_LEN = 1000
_TICK_S = 0.005


@dataclass(frozen=True)
class Sent:
    object_c: float
    ambient_c: float
    fault: str | None
    garbled: bool = False           # sent while the client's line speed was wrong
    last_byte: int = 0              # of what was sent: a line protocol needs its newline

    @property
    def intact(self) -> bool:
        return not self.garbled and (self.fault is None or self.fault in INTACT_FAULTS)


class ThermalSimulator(PtyDevice):
    def __init__(self, *, protocol: str = gy90614.PROTOCOL, profile: str = "normal",
                 source: Callable[[], float] | None = None,
                 ambient: Callable[[], float] | None = None, baud: int | None = None,
                 faults: tuple[str, ...] = (), fault_every: int = 5, autostart: bool = True,
                 seed: int | None = 0) -> None:
        _check_choice("protocol", protocol, tuple(SPEAKERS))
        self.speaker = speaker_for(protocol)
        baud = baud or self.speaker.bauds[0]
        _check_choice("profile", profile, PROFILES)
        _check_choice("baud", baud, self.speaker.bauds)
        for fault in faults:
            _check_choice("fault", fault, FAULTS)
        if fault_every < 1:
            raise DriverError(f"thermal simulator: fault_every={fault_every}; allowed: >= 1")
        self.protocol, self.profile, self.baud = protocol, profile, baud
        self.source, self.ambient = source, ambient
        self.faults, self.fault_every = tuple(faults), fault_every
        self.speaker.continuous = autostart
        self._rng = random.Random(seed)
        self._pending: deque[str] = deque()
        self._out = bytearray()
        self.journal: deque[Sent] = deque(maxlen=JOURNAL_LEN)   # the last frames sent
        self.frames_sent = 0
        self.garbled_frames = 0         # frames sent while the client's speed was wrong
        self.faults_injected: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.dropped_writes = 0         # bytes the pty would not take (client not reading)
        self._quiet_until = 0.0
        super().__init__("thermal-sim")
        self._started = time.monotonic()
        self._serve()

    @property
    def continuous(self) -> bool:
        return self.speaker.continuous

    def inject(self, fault: str) -> None:
        """Apply `fault` to the next frame sent."""
        _check_choice("fault", fault, FAULTS)
        self._pending.append(fault)

    def speed_matches(self) -> bool:
        """Whether the client set its side of the line to this sensor's baud."""
        attrs = termios.tcgetattr(self._master)
        return attrs[5] == getattr(termios, f"B{self.baud}")

    def stats(self) -> dict:
        return {"port": self.port, "protocol": self.protocol, "baud": self.baud,
                "profile": self.profile, "frames_sent": self.frames_sent,
                "intact_sent": sum(s.intact for s in self.journal),  # of the last 1000
                "garbled_frames": self.garbled_frames,
                "faults_injected": {k: v for k, v in self.faults_injected.items() if v}}

    def _run(self) -> None:
        due = paced = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            wait = _TICK_S if self._out else max(0.0, min(due - now, 0.2))
            ready, _, _ = select.select([self._master], [], [], wait)
            if ready:
                self._receive()
            now = time.monotonic()
            paced = self._pump(paced, now)
            # Like the sensor's MCU, start a frame only once the UART has sent the last one.
            if self.speaker.continuous and now >= max(due, self._quiet_until) and not self._out:
                self._send_frame()
                due = max(due + self.speaker.interval_s(self._rng), now - 1.0)

    def _pump(self, paced: float, now: float) -> float:
        """Write what the line could have carried since `paced`; the new pace mark."""
        if not self._out:
            return now
        budget = int((now - paced) * self.baud / 10)
        if budget < 1:
            return paced
        chunk = bytes(self._out[:budget])
        del self._out[:budget]
        self._write(chunk)
        return paced + len(chunk) * 10 / self.baud

    def _receive(self) -> None:
        try:
            data = os.read(self._master, 256)
        except (BlockingIOError, OSError):
            return
        if not self.speed_matches():
            return      # at the wrong line speed the bytes arrive as noise
        for answer in self.speaker.hear(data):
            if answer == SEND_FRAME:
                self._send_frame()
            else:
                self._queue(answer)

    def _send_frame(self) -> None:
        if self.profile == "fault" and self.frames_sent >= FAULT_PROFILE_FRAMES:
            return
        fault = self._next_fault()
        object_c, nearness = self._object()
        if fault == "reading_5a":
            object_c = 34.18
        ambient_c = self.ambient() if self.ambient else 25.0 + self._rng.uniform(-0.05, 0.05)
        frame = self.speaker.frame(object_c, ambient_c, nearness, self._rng)
        if fault == "silence":
            self._quiet_until = time.monotonic() + SILENCE_S
        data = self._corrupt(frame, fault) if fault else frame
        self.journal.append(Sent(object_c, ambient_c, fault, not self.speed_matches(), data[-1]))
        self.frames_sent += 1
        self._queue(data)

    def _queue(self, data: bytes) -> None:
        if not self.speed_matches():
            self.garbled_frames += 1
            data = bytes(0xE0 | (b & 0x0F) for b in data)   # never 0x5A or "\n": pure noise
        self._out += data

    def _object(self) -> tuple[float, float]:
        if self.source is not None:
            return self.source(), 1.0
        elapsed = time.monotonic() - self._started
        if self.profile != "walk":
            return profile_temperature(self.profile, elapsed, self._rng), 1.0
        nearness = nearness_at(elapsed % WALK_PERIOD_S)
        if self.speaker.imaging:    # an array sees the face grow, not a warmer blur
            return person_c(self._rng), nearness
        return profile_temperature(self.profile, elapsed, self._rng), nearness

    def _next_fault(self) -> str | None:
        if self._pending:
            fault = self._pending.popleft()
        elif self.faults and self.frames_sent % self.fault_every == self.fault_every - 1:
            fault = self.faults[(self.frames_sent // self.fault_every) % len(self.faults)]
        else:
            return None
        self.faults_injected[fault] += 1
        return fault

    def _corrupt(self, frame: bytes, fault: str) -> bytes:
        where = self._rng.randrange(2, len(frame))
        if fault == "drop_byte":
            return frame[:where] + frame[where + 1:]
        if fault == "bit_flip":
            return frame[:where] + bytes((frame[where] ^ (1 << self._rng.randrange(8)),)) \
                + frame[where + 1:]
        if fault == "fake_header":
            return self.speaker.fake_header() + frame
        if fault == "truncated":
            return frame[:max(5, len(frame) // 2)]
        if fault == "banner":
            return self.speaker.banner + frame
        return frame    # reading_5a, silence: a whole frame

    def _write(self, data: bytes) -> None:
        try:
            written = os.write(self._master, data)
        except (BlockingIOError, OSError):
            written = 0
        self.dropped_writes += len(data) - written


def _check_choice(what: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise DriverError(f"thermal simulator: {what} {value!r} is not supported; "
                          f"allowed: {', '.join(map(str, allowed))}")
