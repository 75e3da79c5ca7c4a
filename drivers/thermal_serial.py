"""A serial thermal sensor read by a background thread (pyserial, imported lazily).

The thread feeds every byte to the protocol framer and queues verified readings; the
caller's read() never waits longer than its timeout. The sensor is told to stream on open
and again after a second of silence (it may have rebooted into query mode). With baud
"auto" the driver tries 9600 then 115200 and locks on the first speed that yields two
verified frames; it never sends baud or save commands, which would change the sensor.
A vanished port (USB unplug) is reopened in the background; meanwhile `fault` is True.

Timing here is real (time.monotonic), because it paces real I/O; readings are stamped
with the injected clock so the agent compares them with its own notion of now.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from drivers import gy90614
from drivers.base import DriverError, ThermalReading, ThermalSensor

PROTOCOLS = (gy90614.PROTOCOL,)
AUTO_BAUDS = (9600, 115200)
RESEND_AFTER_S = 1.0        # silence after which the stream command is sent again
FAULT_AFTER_S = 3.0         # silence after which the sensor counts as faulty
REOPEN_EVERY_S = 0.5
READ_TIMEOUT_S = 0.05
LOCK_AFTER_FRAMES = 2
QUEUE_LEN = 64


class SerialThermal(ThermalSensor):
    def __init__(self, port: str, *, protocol: str = gy90614.PROTOCOL,
                 baud: int | None = None, clock, fault_after_s: float = FAULT_AFTER_S) -> None:
        if protocol not in PROTOCOLS:
            raise DriverError(f"thermal: protocol {protocol!r} is not supported; "
                              f"allowed: {', '.join(PROTOCOLS)}")
        self.port = port
        self.protocol = protocol
        self.clock = clock
        self.fault_after_s = fault_after_s
        self._bauds = (baud,) if baud else AUTO_BAUDS
        self._baud_index = 0
        self.locked_baud: int | None = None
        self._frames_at_baud = 0
        self._framer = gy90614.Framer()
        self._readings: deque[ThermalReading] = deque(maxlen=QUEUE_LEN)
        self._arrived = threading.Condition()
        self.dropped_readings = 0       # readings pushed out because nobody read them
        self.reopens = 0
        self._serial = self._open()
        self._last_frame: float | None = None
        self._opened_at = self._last_poke = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thermal-serial", daemon=True)
        self._thread.start()

    @classmethod
    def from_options(cls, target: str, options: dict[str, str], *, clock) -> SerialThermal:
        """For `serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto`."""
        unknown = sorted(set(options) - {"protocol", "baud"})
        if unknown:
            raise DriverError(f"thermal url: unknown option(s) {', '.join(unknown)}; "
                              "allowed: protocol, baud")
        if not target:
            raise DriverError("thermal url: no device path, e.g. serial:///dev/ttyUSB0")
        return cls(target, protocol=options.get("protocol", gy90614.PROTOCOL),
                   baud=parse_baud(options.get("baud", "auto")), clock=clock)

    @property
    def baud(self) -> int:
        return self._bauds[self._baud_index]

    def _open(self):
        import serial

        try:
            return serial.Serial(self.port, baudrate=self.baud, timeout=READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
            raise DriverError(f"thermal: cannot open serial port {self.port}: {reason}") from None

    def read(self, timeout: float) -> ThermalReading | None:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not self._readings:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._arrived.wait(remaining)
            return self._readings.popleft()

    @property
    def state(self) -> str:
        """"ok", "starting" (nothing yet), "silent" (nothing for a while), "disconnected"
        (the port vanished; being reopened) or "closed"."""
        if self._stop.is_set():
            return "closed"
        if self._serial is None:
            return "disconnected"
        last = self._last_frame if self._last_frame is not None else self._opened_at
        if time.monotonic() - last > self.fault_after_s:
            return "silent"
        return "ok" if self._last_frame is not None else "starting"

    @property
    def fault(self) -> bool:
        return self.state in ("silent", "disconnected")

    def stats(self) -> dict:
        return {"port": self.port, "protocol": self.protocol, "state": self.state,
                "baud": self.baud, "locked_baud": self.locked_baud, "reopens": self.reopens,
                "dropped_readings": self.dropped_readings, **self._framer.stats()}

    def describe(self) -> str:
        return f"{self.protocol} on {self.port} at {self.baud} baud ({self.state})"

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        with self._arrived:
            self._arrived.notify_all()

    def _run(self) -> None:
        self._poke()
        while not self._stop.is_set():
            if self._serial is None:
                self._reopen()
                continue
            try:
                data = self._serial.read(self._serial.in_waiting or 1)
            except OSError:     # pyserial's SerialException is an OSError
                self._lost()
                continue
            if data:
                self._take(data)
            self._mind_silence()

    def _take(self, data: bytes) -> None:
        now = self.clock.monotonic()
        decoded = (gy90614.to_reading(frame, now) for frame in self._framer.feed(data))
        readings = [reading for reading in decoded if reading is not None]
        if not readings:
            return
        self._last_frame = self._last_poke = time.monotonic()
        self._frames_at_baud += len(readings)
        if self.locked_baud is None and self._frames_at_baud >= LOCK_AFTER_FRAMES:
            self.locked_baud = self.baud
        with self._arrived:
            overflow = len(self._readings) + len(readings) - QUEUE_LEN
            self.dropped_readings += max(0, overflow)
            self._readings.extend(readings)
            self._arrived.notify_all()

    def _mind_silence(self) -> None:
        if time.monotonic() - self._last_poke < RESEND_AFTER_S:
            return
        if self.locked_baud is None and len(self._bauds) > 1:
            self._next_baud()
        self._poke()

    def _next_baud(self) -> None:
        self._baud_index = (self._baud_index + 1) % len(self._bauds)
        self._frames_at_baud = 0
        try:
            self._serial.baudrate = self.baud
        except OSError:
            self._lost()

    def _poke(self) -> None:
        """Ask for the continuous stream; harmless when the sensor already streams."""
        self._last_poke = time.monotonic()
        if self._serial is None:
            return
        try:
            self._serial.write(gy90614.command(gy90614.CMD_CONTINUOUS))
        except OSError:
            self._lost()

    def _lost(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except OSError:
                pass
        self._serial = None

    def _reopen(self) -> None:
        if self._stop.wait(REOPEN_EVERY_S):
            return
        try:
            self._serial = self._open()
        except DriverError:
            return
        self.reopens += 1
        self._poke()


def parse_baud(text: str) -> int | None:
    """"auto" -> None (autodetect), else a positive integer."""
    if text == "auto":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise DriverError(f"thermal url: baud={text!r}; allowed: auto or a rate such as "
                      f"{', '.join(map(str, AUTO_BAUDS))}")
