"""A serial thermal sensor read by a background thread (pyserial, imported lazily).

The thread feeds every byte to the protocol's framer and queues verified readings; the
caller's read() never waits longer than its timeout. The thread also owns time, the way
a technician watching the line would:

- a frame's bytes come back to back, so a gap of PARTIAL_AFTER_S ends a partial frame;
- data older than three frame periods (measured, not assumed) is `stale`;
- after RESEND_AFTER_S without a frame the stream command is sent again (the sensor may
  have rebooted into query mode); while the speed is not locked, the next usual baud of
  the protocol is tried first, the configured one having been tried before them all;
- the speed locks after two verified frames; no baud or save command is ever sent;
- after REOPEN_AFTER_S of silence the port itself is closed and reopened, and a port that
  vanished (USB unplug) is reopened with backoff (REOPEN_FIRST_S doubling to
  REOPEN_MAX_S) until it is back.

The port is opened with pyserial's `serial_for_url`, so besides a device path a
technician may name `socket://HOST:PORT` (a serial-to-network bridge), `rfc2217://...`
or `spy:///dev/ttyUSB0?file=trace.txt` (every byte logged); pyserial's own options of
those schemes are handed on to it.

Timing here is real (time.monotonic), because it paces real I/O; readings are stamped
with the injected clock so the agent compares them with its own notion of now. The
reading thread is a supervised loop (runtime.worker): a bug met on some bytes is logged,
the partial frame is dropped, and reading goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from drivers.base import OK, STARTING, DriverError, ThermalReading, ThermalSensor, fault
from drivers.reopen import close_quietly, reopen
from drivers.thermal import gy90614
from drivers.thermal.protocols import protocol_named
from runtime.worker import Backoff, Worker

PARTIAL_AFTER_S = 0.2
STALE_PERIODS = 3
RESEND_AFTER_S = 1.0
FAULT_AFTER_S = 3.0         # silence after which the sensor counts as faulty
REOPEN_AFTER_S = 5.0
REOPEN_FIRST_S, REOPEN_MAX_S = 0.5, 5.0
READ_TIMEOUT_S = 0.05
LOCK_AFTER_FRAMES = 2
QUEUE_LEN = 64


class SerialThermal(ThermalSensor):
    def __init__(self, port: str, *, protocol: str = gy90614.PROTOCOL,
                 baud: int | None = None, clock, fault_after_s: float = FAULT_AFTER_S,
                 reopen_after_s: float = REOPEN_AFTER_S) -> None:
        self.spec = protocol_named(protocol)
        self.protocol, self.port, self.clock = protocol, port, clock
        self.fault_after_s, self.reopen_after_s = fault_after_s, reopen_after_s
        self._bauds = baud_order(baud, self.spec.bauds)
        self._baud_index = 0
        self.locked_baud: int | None = None
        self._frames_at_baud = 0
        self._framer = self.spec.new_framer()
        self._period = self.spec.frame_period_s
        self._readings: deque[ThermalReading] = deque(maxlen=QUEUE_LEN)
        self._arrived = threading.Condition()
        self.dropped_readings = 0       # readings pushed out because nobody read them
        self.reopens = 0
        self.flushes = 0                # partial frames ended by a silence
        self._serial = self._open()
        self._last_frame: float | None = None
        self._opened_at = self._last_poke = self._last_byte = time.monotonic()
        self._flushed = True
        self._reopen_backoff = Backoff(REOPEN_FIRST_S, REOPEN_MAX_S)
        self._worker = Worker("thermal-serial", self._serve_once)
        self._stop = self._worker.stopping
        self._poke()
        self._worker.start()

    @property
    def baud(self) -> int:
        return self._bauds[self._baud_index]

    @property
    def frame_period_s(self) -> float:
        """The sensor's frame period as measured (the protocol's nominal one at first)."""
        return self._period

    @property
    def stale_after_s(self) -> float:
        return STALE_PERIODS * self._period

    def _open(self):
        import serial

        try:
            return serial.serial_for_url(self.port, baudrate=self.baud, timeout=READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
            raise DriverError(f"thermal: cannot open serial port {self.port}: {reason}") from None

    def read(self, timeout: float) -> ThermalReading | None:
        deadline = time.monotonic() + timeout
        with self._arrived:     # waits out the timeout even when closed: callers never spin
            while not self._readings:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._arrived.wait(remaining)
            return self._readings.popleft()

    @property
    def state(self) -> str:
        """"ok", "starting" (nothing yet), "stale" (no frame for three periods), "silent"
        (none for fault_after_s), "disconnected" (port gone; being reopened) or "closed"."""
        if self._stop.is_set():
            return "closed"
        if self._serial is None:
            return "disconnected"
        now = time.monotonic()
        last = self._last_frame if self._last_frame is not None else self._opened_at
        if now - last > self.fault_after_s:
            return "silent"
        if self._last_frame is None:
            return "starting"
        return "stale" if now - self._last_frame > self.stale_after_s else "ok"

    @property
    def fault(self) -> bool:
        return self.state in ("silent", "disconnected")

    @property
    def health(self) -> str:
        """The state as the status message says it: a late frame (`stale`) is no fault."""
        return _HEALTH.get(self.state, OK)

    @property
    def workers(self) -> tuple:
        return (self._worker,)

    def counters(self) -> dict[str, int]:
        stats = self._framer.stats()
        rejected = sum(stats.get(key, 0) for key in
                       ("checksum_failures", "implausible", "rejected_lines"))
        return {"sensor_frames": stats["frames"], "sensor_frames_rejected": rejected,
                "sensor_readings_dropped": self.dropped_readings,
                "sensor_reopens": self.reopens}

    def stats(self) -> dict:
        return {"port": self.port, "protocol": self.protocol, "state": self.state,
                "baud": self.baud, "locked_baud": self.locked_baud, "reopens": self.reopens,
                "flushes": self.flushes, "frame_period_s": round(self._period, 3),
                "dropped_readings": self.dropped_readings, **self._framer.stats()}

    def describe(self) -> str:
        return f"{self.protocol} on {self.port} at {self.baud} baud ({self.state})"

    def close(self) -> None:
        self._worker.stop()
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        with self._arrived:
            self._arrived.notify_all()

    def _serve_once(self) -> None:
        """One round of the reading loop: read what arrived, frame it, supervise."""
        if self._serial is None:
            self._reopen()
            return
        try:
            data = self._serial.read(self._serial.in_waiting or 1)
        except OSError:     # pyserial's SerialException is an OSError
            self._lost()
            return
        now = time.monotonic()
        if data:
            self._last_byte, self._flushed = now, False
            try:
                self._take(data, now)
            except Exception:
                self._framer.flush()    # never meet the same bytes twice
                raise
        self._supervise(now)

    def _take(self, data: bytes, now: float) -> None:
        frames = self._framer.feed(data)
        if not frames:
            return
        stamp = self.clock.monotonic()
        readings = [r for r in (self.spec.to_reading(f, stamp) for f in frames) if r is not None]
        if self._last_frame is not None and now - self._last_frame < 5.0:
            self._period = 0.8 * self._period + 0.2 * max(now - self._last_frame, 0.005)
        self._last_frame = self._last_poke = now
        self._frames_at_baud += len(frames)
        if self.locked_baud is None and self._frames_at_baud >= LOCK_AFTER_FRAMES:
            self.locked_baud = self.baud
        with self._arrived:
            overflow = len(self._readings) + len(readings) - QUEUE_LEN
            self.dropped_readings += max(0, overflow)
            self._readings.extend(readings)
            self._arrived.notify_all()

    def _supervise(self, now: float) -> None:
        if not self._flushed and now - self._last_byte > PARTIAL_AFTER_S:
            self._framer.flush()
            self._flushed = True
            self.flushes += 1
        last = self._last_frame if self._last_frame is not None else self._opened_at
        if now - max(last, self._opened_at) > self._reopen_after():
            self._lost()
            return
        if now - self._last_poke < self._dwell():
            return
        if self.locked_baud is None and len(self._bauds) > 1:
            self._next_baud()
        self._poke()

    def _dwell(self, baud: int | None = None) -> float:
        """How long one speed (or one stream command) gets before the next is tried: a frame
        in flight, then two whole ones."""
        if self.locked_baud is not None:
            return RESEND_AFTER_S
        frame_time = self.spec.frame_time_s(baud or self.baud)
        return max(RESEND_AFTER_S, 3 * frame_time + 2 * self._period)

    def _reopen_after(self) -> float:
        """Silence before the port is reopened; while detecting, never before every speed
        has had its turn."""
        if self.locked_baud is not None:
            return self.reopen_after_s
        return max(self.reopen_after_s, sum(self._dwell(baud) for baud in self._bauds))

    def _next_baud(self) -> None:
        self._baud_index = (self._baud_index + 1) % len(self._bauds)
        self._frames_at_baud = 0
        self._framer.flush()
        try:
            self._serial.baudrate = self.baud
        except OSError:
            self._lost()

    def _poke(self) -> None:
        """Ask for the continuous stream; harmless when the sensor already streams."""
        self._last_poke = time.monotonic()
        if self._serial is None or not self.spec.stream_command:
            return
        try:
            self._serial.write(self.spec.stream_command)
        except OSError:
            self._lost()

    def _lost(self) -> None:
        if self._serial is not None:
            close_quietly(self._serial)
        self._serial = None

    def _reopen(self) -> None:
        self._serial = reopen(self._stop, self._reopen_backoff, self._open)
        if self._serial is None:
            return
        self.reopens += 1
        self._opened_at = time.monotonic()
        self.locked_baud, self._frames_at_baud = None, 0    # maybe another unit: detect again
        self._framer.flush()
        self._poke()


def baud_order(configured: int | None, usual: tuple[int, ...]) -> tuple[int, ...]:
    """The configured rate first, then the protocol's usual ones."""
    first = (configured,) if configured else ()
    return first + tuple(b for b in usual if b != configured)


_HEALTH = {"starting": STARTING, "silent": fault("no data from the sensor"),
           "disconnected": fault("port gone; reopening"), "closed": fault("closed")}
