"""Feeding a framer the way a serial port does: the same bytes, cut anywhere."""

from __future__ import annotations

from collections.abc import Callable


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length, in any order)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def feed_in_chunks(framer, data: bytes, cuts: list[int]) -> list:
    return [item for chunk in chunks(data, cuts) for item in framer.feed(chunk)]


def assert_chunking_does_not_matter(new_framer: Callable[[], object], stream: bytes,
                                    cuts: list[int]) -> None:
    """The same frames and the same counters, whether fed whole or in pieces."""
    whole, chunked = new_framer(), new_framer()
    assert feed_in_chunks(chunked, stream, cuts) == whole.feed(stream)
    assert chunked.stats() == whole.stats()
