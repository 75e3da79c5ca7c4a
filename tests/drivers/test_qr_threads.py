"""OpenCV's thread pool is off under the decoder: on our frames it only spins (the same
wall time, about twice the CPU), and the bench can still measure it both ways."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.decode import measure_threads
from drivers.qr import make_decoder
from drivers.sim.render import Renderer


@pytest.mark.parametrize("name", ["auto", "zxing", "zbar"])
def test_making_a_decoder_turns_the_pool_off(name):
    cv2.setNumThreads(4)
    make_decoder(name)
    assert cv2.getNumThreads() == 1


def test_the_bench_times_both_settings_and_leaves_the_pool_off():
    rng = np.random.default_rng(2)
    frames = [Renderer((640, 480)).frame(None, rng) for _ in range(3)]
    figures = measure_threads(make_decoder("auto"), frames)
    assert set(figures) == {"pool", "off"}
    assert all(row["wall_ms"] > 0 and row["cpu_ms"] > 0 for row in figures.values())
    assert cv2.getNumThreads() == 1
