"""The latest-frame buffer between a capture thread and the scanner."""

from __future__ import annotations

import threading

from drivers.frames import LatestFrame


def test_buffer_keeps_only_the_newest_frame_and_counts_the_unread_ones():
    buffer = LatestFrame()
    for n in range(3):
        buffer.put(f"image {n}", t_mono=float(n))
    frame = buffer.latest(after=0, timeout=0)
    assert (frame.image, frame.index, frame.t_mono) == ("image 2", 3, 2.0)
    assert buffer.dropped == 2
    buffer.put("image 3", t_mono=3.0)
    assert buffer.dropped == 2          # frame 3 had been read before it was replaced
    assert buffer.latest(after=4, timeout=0) is None


def test_buffer_wakes_a_waiting_reader_and_close_releases_it():
    buffer = LatestFrame()
    got = []
    reader = threading.Thread(target=lambda: got.append(buffer.latest(after=0, timeout=10)))
    reader.start()
    buffer.put("image", t_mono=1.0)
    reader.join(timeout=5)
    assert got[0].image == "image"
    waiting = threading.Thread(target=lambda: got.append(buffer.latest(after=1, timeout=10)))
    waiting.start()
    buffer.close()
    waiting.join(timeout=5)
    assert not waiting.is_alive() and got[1] is None
