"""What a simulated unit of each protocol says and how it obeys the commands it hears.

A speaker turns (object, ambient, nearness) into the exact bytes of one frame, parses the
commands arriving on its line, and answers them: a query is answered by a frame (the
simulator sends it), an emissivity query by its reply, rate and mode commands change how
it streams, baud and save commands only change what it would do after a power cycle.
"""

from __future__ import annotations

import random

from drivers.thermal import ascii_bridge, gy90614, gy90640

SEND_FRAME = "frame"        # an answer meaning "send one frame now"


class Gy90614Speaker:
    protocol = gy90614.PROTOCOL
    bauds = (9600, 115200)
    imaging = False
    banner = b"GY-MCU90614 V1.3 ready\r\n"

    def __init__(self, protocol: str = gy90614.PROTOCOL) -> None:
        self.protocol = protocol
        self.continuous = True
        self.autostart = True
        self.saved_baud: int | None = None
        self._commands = gy90614.CommandParser()

    def interval_s(self, rng: random.Random) -> float:
        return rng.uniform(1 / 14, 1 / 10)

    def frame(self, object_c: float, ambient_c: float, nearness: float,
              rng: random.Random) -> bytes:
        return gy90614.encode_frame(object_c, ambient_c)

    def fake_header(self) -> bytes:
        return gy90614.HEADER + bytes((gy90614.TYPE_TEMPERATURE, 4, 0x5A))

    def hear(self, data: bytes) -> list:
        answers = []
        for code in self._commands.feed(data):
            if code == gy90614.CMD_CONTINUOUS:
                self.continuous = True
            elif code == gy90614.CMD_QUERY:
                answers.append(SEND_FRAME)
            elif code in (gy90614.CMD_AUTOSTART_ON, gy90614.CMD_AUTOSTART_OFF):
                self.autostart = code == gy90614.CMD_AUTOSTART_ON
            elif code in (gy90614.CMD_BAUD_9600, gy90614.CMD_BAUD_115200):
                self.saved_baud = 9600 if code == gy90614.CMD_BAUD_9600 else 115200
        return answers


class Gy90640Speaker:
    protocol = gy90640.PROTOCOL
    bauds = (115200, 460800, 9600)
    imaging = True
    banner = b"GY-MCU90640 v2.0\r\n"

    def __init__(self, rate_index: int = 3) -> None:
        self.continuous = True
        self.rate_hz = gy90640.RATES_HZ[rate_index]
        self.emissivity = 95
        self.saved_baud: int | None = None
        self.saved = False
        self._buf = bytearray()

    def interval_s(self, rng: random.Random) -> float:
        return 1 / self.rate_hz

    def frame(self, object_c: float, ambient_c: float, nearness: float,
              rng: random.Random) -> bytes:
        return gy90640.encode_frame(scene_pixels(object_c, nearness, rng), ambient_c)

    def fake_header(self) -> bytes:
        return gy90640.HEADER + b"\x5a" * 40

    def hear(self, data: bytes) -> list:
        self._buf += data
        answers = []
        while (start := self._buf.find(gy90640.COMMAND_START)) >= 0:
            del self._buf[:start]
            if len(self._buf) < 4:
                break
            if gy90640.sum8(self._buf[:3]) != self._buf[3]:
                del self._buf[:1]
                continue
            answers += self._obey(self._buf[1], self._buf[2])
            del self._buf[:4]
        if start < 0:
            self._buf.clear()
        return answers

    def _obey(self, code: int, arg: int) -> list:
        if code == gy90640.CMD_RATE and arg < len(gy90640.RATES_HZ):
            self.rate_hz = gy90640.RATES_HZ[arg]
        elif code == gy90640.CMD_MODE and arg in (gy90640.MODE_QUERY, gy90640.MODE_CONTINUOUS):
            self.continuous = arg == gy90640.MODE_CONTINUOUS
            return [] if self.continuous else [SEND_FRAME]
        elif code == gy90640.CMD_BAUD and arg in gy90640.BAUD_ARGS:
            self.saved_baud = gy90640.BAUD_ARGS[arg]
        elif code == gy90640.CMD_EMISSIVITY and 1 <= arg <= 100:
            self.emissivity = arg
        elif code == gy90640.CMD_QUERY_EMISSIVITY:
            return [gy90640.encode_emissivity(self.emissivity)]
        elif code == gy90640.CMD_SAVE:
            self.saved = True
        return []


def scene_pixels(object_c: float, nearness: float, rng: random.Random,
                 background_c: float = 24.0,
                 center: tuple[float, float] = (11.5, 12.0)) -> list[float]:
    """A 32x24 frame as the sensor sends it (mirrored): a face at `center` (row, column;
    by default left of centre, so mirroring must be undone to find it) whose size grows
    with nearness, its warmest spot at `object_c`, edges cooler; or only background."""
    image = [[background_c + rng.uniform(-0.2, 0.2) for _ in range(gy90640.COLS)]
             for _ in range(gy90640.ROWS)]
    if object_c < gy90640.SKIN_PIXEL_C[0]:
        image = [[object_c + rng.uniform(-0.2, 0.2) for _ in row] for row in image]
    elif nearness > 0:
        radius = 1.0 + 7.0 * nearness
        cy, cx = center
        for y in range(gy90640.ROWS):
            for x in range(gy90640.COLS):
                d = ((y - cy) ** 2 + (x - cx) ** 2) ** 0.5 / radius
                if d <= 1.0:
                    image[y][x] = object_c - (0.0 if d < 0.35 else 1.5 * d)
    return [value for row in image for value in row[::-1]]


class AsciiSpeaker:
    protocol = ascii_bridge.PROTOCOL
    bauds = (9600, 115200, 57600, 38400, 19200)
    imaging = False
    banner = b"MLX90614 bridge ready\r\n"

    def __init__(self) -> None:
        self.continuous = True

    def interval_s(self, rng: random.Random) -> float:
        return rng.uniform(0.08, 0.12)

    def frame(self, object_c: float, ambient_c: float, nearness: float,
              rng: random.Random) -> bytes:
        return ascii_bridge.encode_line(object_c, ambient_c)

    def fake_header(self) -> bytes:
        return b"Object = 3"

    def hear(self, data: bytes) -> list:
        return []       # a bridge streams and takes no commands


SPEAKERS = {gy90614.PROTOCOL: Gy90614Speaker, "gy-mcu90615": Gy90614Speaker,
            gy90640.PROTOCOL: Gy90640Speaker, ascii_bridge.PROTOCOL: AsciiSpeaker}


def speaker_for(protocol: str):
    if protocol == "gy-mcu90615":
        return Gy90614Speaker(protocol)
    return SPEAKERS[protocol]()
