"""A simulated keyboard-wedge card reader: `struct input_event`s written into a FIFO that
the real hid driver (drivers/reader/hid.py) reads as it reads /dev/input/eventN, so its
whole decoding path runs.

The source holds its FIFO open for reading and writing (Linux lets a FIFO be opened so
without waiting for a partner): the reader may open it before or after the first number
is typed, and what was typed waits in the pipe. `unplug()` closes that end and removes the
node, as a pulled USB reader's node vanishes: the reader meets end of file, then a path
that is not there, until `replug()`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from drivers.reader import evdev


class InputEventSource:
    def __init__(self, folder: Path | None = None, name: str = "sim-reader-event-kbd") -> None:
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="checkpoint-hid-"))
        self.path = self.folder / name
        self._fd: int | None = None
        self._lock = threading.Lock()
        self.numbers_typed = 0
        self.replug()

    def type_number(self, text: str, *, enter: bool = True, shift_letters: bool = True) -> None:
        """Type `text` (digits, A-F) the way a reader does: key by key, then Enter."""
        self.write_events(evdev.typed(text, time.time(), enter=enter,
                                      shift_letters=shift_letters))
        self.numbers_typed += 1

    def write_events(self, events: list[evdev.InputEvent]) -> None:
        self.write_bytes(b"".join(evdev.pack(event) for event in events))

    def write_bytes(self, data: bytes) -> None:
        """Raw bytes into the stream (a test's hand-made or broken events)."""
        with self._lock:
            if self._fd is None:
                return      # unplugged: what a reader types then goes nowhere
            os.write(self._fd, data)

    def unplug(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)
            self.path.unlink(missing_ok=True)

    def replug(self) -> None:
        with self._lock:
            if self._fd is not None:
                return
            if not self.path.exists():
                os.mkfifo(self.path, 0o600)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)

    def close(self) -> None:
        self.unplug()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> InputEventSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
