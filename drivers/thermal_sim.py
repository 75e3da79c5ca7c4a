"""A simulated GY-MCU90614 on a real pseudo-terminal, speaking the exact byte protocol.

The real driver (pyserial, framer, checksums, autodetect) talks to it as to a USB serial
adapter. A pty does not enforce a line speed, so the simulator reads the speed the
client configured (termios on its side of the pty) and, like a real UART at the wrong
rate, sends garbled bytes and misreads commands when it differs from its own baud.
Fault injection corrupts chosen frames the ways real serial lines do.
"""

from __future__ import annotations

import os
import random
import select
import termios
import threading
import time
import tty
from collections import deque
from collections.abc import Callable

from drivers import gy90614
from drivers.base import DriverError, ThermalSensor
from drivers.thermal_serial import SerialThermal

PROFILES = ("normal", "fever", "walk", "edge", "fault")
FAULTS = ("drop_byte", "bit_flip", "fake_header", "truncated", "banner", "reading_5a")
BAUDS = (9600, 115200)
BANNER = b"GY-MCU90614 V1.3 ready\r\n"
FAULT_PROFILE_FRAMES = 5        # the `fault` profile falls silent after this many frames
FRAME_INTERVAL_S = (1 / 14, 1 / 10)
WALK_PERIOD_S = 6.0
_POLL_S = 0.2


def profile_temperature(profile: str, elapsed: float, rng: random.Random) -> float:
    """The object temperature a profile reports `elapsed` seconds after the start."""
    if profile == "fever":
        return rng.uniform(38.0, 38.8)
    if profile == "edge":
        return rng.uniform(37.0, 37.6)
    if profile == "walk":
        return _walk(elapsed % WALK_PERIOD_S) + rng.uniform(-0.15, 0.15)
    return rng.uniform(36.3, 36.9)


def _walk(phase: float) -> float:
    """Background, a person stepping up (ramp), standing, walking away, background."""
    background, person = 24.0, 36.6
    nearness = min(max(phase - 1.5, 0.0), 0.5, max(4.5 - phase, 0.0)) / 0.5
    return background + (person - background) * nearness


class ThermalSimulator:
    def __init__(self, *, profile: str = "normal", source: Callable[[], float] | None = None,
                 baud: int = 9600, faults: tuple[str, ...] = (), fault_every: int = 5,
                 autostart: bool = True, seed: int | None = 0) -> None:
        _check_choice("profile", profile, PROFILES)
        _check_choice("baud", baud, BAUDS)
        for fault in faults:
            _check_choice("fault", fault, FAULTS)
        if fault_every < 1:
            raise DriverError(f"thermal simulator: fault_every={fault_every}; allowed: >= 1")
        self.profile, self.source, self.baud = profile, source, baud
        self.faults, self.fault_every = tuple(faults), fault_every
        self.continuous = self.autostart = autostart
        self.saved_baud = baud          # what a baud command would set after a power cycle
        self._rng = random.Random(seed)
        self._pending: deque[str] = deque()
        self._commands = gy90614.CommandParser()
        self.frames_sent = 0            # temperature frames written, corrupted ones included
        self.garbled_frames = 0         # frames sent while the client's speed was wrong
        self.faults_injected: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.dropped_writes = 0         # bytes the pty would not take (client not reading)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)         # kept open: the master never sees a hangup
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thermal-sim", daemon=True)
        self._thread.start()

    def inject(self, fault: str) -> None:
        """Apply `fault` to the next frame sent."""
        _check_choice("fault", fault, FAULTS)
        self._pending.append(fault)

    def speed_matches(self) -> bool:
        """Whether the client set its side of the line to this sensor's baud."""
        attrs = termios.tcgetattr(self._master)
        return attrs[5] == getattr(termios, f"B{self.baud}")

    def stats(self) -> dict:
        return {"port": self.port, "baud": self.baud, "profile": self.profile,
                "frames_sent": self.frames_sent, "garbled_frames": self.garbled_frames,
                "faults_injected": {k: v for k, v in self.faults_injected.items() if v}}

    def stop(self) -> None:
        """Stop serving and close the pty; a reader on the other side then gets EIO."""
        if self._stop.is_set():
            return      # closing an fd twice could close a number the process reused
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        os.close(self._master)
        os.close(self._slave)

    close = stop

    def __enter__(self) -> ThermalSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            wait = max(0.0, due - time.monotonic()) if self.continuous else _POLL_S
            ready, _, _ = select.select([self._master], [], [], wait)
            if ready:
                self._receive()
            if self.continuous and time.monotonic() >= due:
                self._send_frame()
                due = max(due + self._rng.uniform(*FRAME_INTERVAL_S), time.monotonic() - 1.0)

    def _receive(self) -> None:
        try:
            data = os.read(self._master, 256)
        except (BlockingIOError, OSError):
            return
        if not self.speed_matches():
            return      # at the wrong line speed the bytes arrive as noise
        for code in self._commands.feed(data):
            self._obey(code)

    def _obey(self, code: int) -> None:
        if code == gy90614.CMD_CONTINUOUS:
            self.continuous = True
        elif code == gy90614.CMD_QUERY:
            self._send_frame()
        elif code in (gy90614.CMD_AUTOSTART_ON, gy90614.CMD_AUTOSTART_OFF):
            self.autostart = code == gy90614.CMD_AUTOSTART_ON
        elif code in (gy90614.CMD_BAUD_9600, gy90614.CMD_BAUD_115200):
            self.saved_baud = 9600 if code == gy90614.CMD_BAUD_9600 else 115200

    def _silent(self) -> bool:
        return self.profile == "fault" and self.frames_sent >= FAULT_PROFILE_FRAMES

    def _send_frame(self) -> None:
        if self._silent():
            return
        fault = self._next_fault()
        object_c = 34.18 if fault == "reading_5a" else self._object_temperature()
        frame = gy90614.encode_frame(object_c, 25.0 + self._rng.uniform(-0.05, 0.05))
        data = self._corrupt(frame, fault) if fault else frame
        self.frames_sent += 1
        if not self.speed_matches():
            self.garbled_frames += 1
            data = bytes(0xE0 | (b & 0x0F) for b in data)   # never 0x5A: pure noise
        self._write(data)

    def _object_temperature(self) -> float:
        if self.source is not None:
            return self.source()
        return profile_temperature(self.profile, time.monotonic() - self._started, self._rng)

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
            return gy90614.HEADER + bytes((gy90614.TYPE_TEMPERATURE, 4, 0x5A)) + frame
        if fault == "truncated":
            return frame[:5]
        if fault == "banner":
            return BANNER + frame
        return frame    # reading_5a: a valid frame whose payload holds 0x5A

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


SIM_OPTIONS = ("protocol", "profile", "baud", "faults", "fault_every", "seed")


def simulator_from_options(options: dict[str, str], source=None) -> ThermalSimulator:
    """A simulator for `sim://?profile=fever&baud=115200&faults=bit_flip,truncated`."""
    unknown = sorted(set(options) - set(SIM_OPTIONS))
    if unknown:
        raise DriverError(f"thermal url: unknown option(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(SIM_OPTIONS)}")
    _check_choice("protocol", options.get("protocol", gy90614.PROTOCOL), (gy90614.PROTOCOL,))
    faults = tuple(f for f in options.get("faults", "").split(",") if f)
    return ThermalSimulator(profile=options.get("profile", "normal"), source=source,
                            baud=_int_option(options, "baud", 9600), faults=faults,
                            fault_every=_int_option(options, "fault_every", 5),
                            seed=_int_option(options, "seed", 0))


def _int_option(options: dict[str, str], name: str, default: int) -> int:
    text = options.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise DriverError(f"thermal url: {name}={text!r}; allowed: a whole number") from None


class SimulatedSensor(SerialThermal):
    """The real serial driver on a simulator's pty; closing it stops the simulator too."""

    def __init__(self, simulator: ThermalSimulator, *, clock) -> None:
        self.simulator = simulator
        super().__init__(simulator.port, clock=clock)

    def close(self) -> None:
        super().close()
        self.simulator.stop()


def open_simulated_sensor(options: dict[str, str], *, clock, scene=None) -> ThermalSensor:
    """A simulator on a new pty and the real serial driver reading it; close() stops both."""
    source = (lambda: scene.temperature_at(clock.monotonic())) if scene is not None else None
    simulator = simulator_from_options(options, source)
    try:
        return SimulatedSensor(simulator, clock=clock)
    except DriverError:
        simulator.stop()
        raise
