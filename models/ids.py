"""UUIDv7 identifiers (RFC 9562): time-ordered, unique across devices."""

from __future__ import annotations

import os
import uuid


def uuid7(epoch_ms: int, random_bytes: bytes | None = None) -> str:
    """A UUIDv7 string from a millisecond timestamp and 10 random bytes."""
    rand = random_bytes if random_bytes is not None else os.urandom(10)
    if len(rand) != 10:
        raise ValueError("uuid7 needs 10 random bytes")
    value = (epoch_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (int.from_bytes(rand[:2], "big") & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(rand[2:], "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
