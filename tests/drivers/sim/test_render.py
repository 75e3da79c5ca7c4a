"""Rendered camera frames decode to exactly the text shown; empty gate frames to nothing."""

from __future__ import annotations

import numpy as np
import pytest

from bench.decode import pass_like_text
from drivers.qr import make_decoder, zbar_text
from drivers.sim.render import Look, Renderer, qr_raster

HARD = Look(tilt=0.25, turn_deg=25.0, blur=1.2, glare=0.9, noise=7.0, fill=0.6)


@pytest.fixture(scope="module")
def auto():
    return make_decoder("auto")


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_cp1_like_text_in_tilted_blurred_glared_noisy_frames(auto, size):
    rng = np.random.default_rng(11)
    text = pass_like_text(rng, 300)
    renderer = Renderer(size, look=HARD)
    frames = [renderer.frame(text, rng) for _ in range(8)]
    assert all(frame.shape == (size[1], size[0], 3) for frame in frames)
    read = [auto.decode(frame) for frame in frames]
    assert sum(texts == [text] for texts in read) >= 7, read


def test_empty_gate_frames_decode_nothing_and_cost_no_second_try():
    auto = make_decoder("auto")
    rng = np.random.default_rng(3)
    renderer = Renderer((640, 480), look=HARD)
    for _ in range(10):
        assert auto.decode(renderer.frame(None, rng)) == []
    assert auto.second_tries == 0


def test_same_seed_same_frame():
    first = Renderer((640, 480)).frame("CP1:ABC", np.random.default_rng(5))
    second = Renderer((640, 480)).frame("CP1:ABC", np.random.default_rng(5))
    third = Renderer((640, 480)).frame("CP1:ABC", np.random.default_rng(6))
    assert np.array_equal(first, second)
    assert not np.array_equal(first, third)


@pytest.mark.parametrize("name", ["auto", "zxing", "zbar"])
@pytest.mark.parametrize("text", ["张*明 3号楼", "北京市朝阳区", "Grüße aus Köln", "CP1:6BF+70"])
def test_every_decoder_returns_the_exact_unicode_text(name, text):
    assert make_decoder(name).decode(qr_raster(text)) == [text]


def test_zbar_text_falls_back_when_bytes_are_not_utf8():
    assert zbar_text("张明".encode("gb18030")) == "张明"
    assert zbar_text(b"caf\xe9") == "café"


def test_unknown_decoder_name_is_a_driver_error():
    from drivers.base import DriverError

    with pytest.raises(DriverError, match="allowed: auto, zxing, zbar"):
        make_decoder("quirc")
