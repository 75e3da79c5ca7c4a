"""What every binary sensor framer shares: a buffer, one-byte resync, and counters.

A subclass writes `_next()`, which looks at the head of `_buf` and returns a frame, True
after dropping bytes (look again), or None (wait for more bytes). Every decision depends
only on bytes already seen and a frame waits until all its bytes are there, so feeding a
stream in any split yields the same frames.
"""

from __future__ import annotations

from typing import Any


class ResyncFramer:
    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0                 # verified frames handed out
        self.discarded = 0              # bytes dropped while resyncing
        self.checksum_failures = 0      # candidate frames whose checksum did not match
        self.implausible = 0            # checksum matched but the values are out of range

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        found: list[Any] = []
        while (item := self._next()) is not None:
            if item is not True:
                found.append(item)
        return found

    def flush(self) -> None:
        """Forget a partial frame (the supervisor calls this after a silence)."""
        self.discarded += len(self._buf)
        self._buf.clear()

    def _drop(self, count: int) -> bool:
        del self._buf[:count]
        self.discarded += count
        return True

    def _to_sync(self, sync: bytes, need: int) -> bool | None:
        """Bring the next `sync` bytes (a two-byte header such as 5A 5A) to the head of the
        buffer: True after dropping bytes (look again), None to wait for more bytes,
        False once the buffer starts with `sync` and holds at least `need` bytes. A last
        byte that may begin `sync` is kept."""
        buf = self._buf
        start = buf.find(sync)
        if start < 0:
            keep = 1 if buf[-1:] == sync[:1] else 0
            return self._drop(len(buf) - keep) if len(buf) > keep else None
        if start:
            return self._drop(start)
        return None if len(buf) < need else False

    def _next(self) -> Any:
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        return {"frames": self.frames, "discarded_bytes": self.discarded,
                "checksum_failures": self.checksum_failures, "implausible": self.implausible}
