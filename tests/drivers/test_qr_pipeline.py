"""The decoder's tiers: what each reads, what triggers the costly ones, and what it never
reads (Micro QR, whose smallest versions appear inside large QR codes)."""

from __future__ import annotations

import numpy as np
import pytest
import segno

from drivers import qr
from drivers.qr import FIRST, QUICK, PipelineDecoder, Read, make_decoder
from drivers.sim.render import qr_raster

TEXT = "CP1:" + "6BF+70" * 30


def micro_raster(text: str, module_px: int = 6):
    modules = np.pad(np.array(segno.make_micro(text).matrix, dtype=bool), 4)
    return np.kron(np.where(modules, 28, 238).astype(np.uint8),
                   np.ones((module_px, module_px), dtype=np.uint8))


def noisy(text: str, seed: int, sigma: float = 60.0):
    """Heavy per-pixel noise on 6-pixel modules: zxing-cpp's local binarizer fails."""
    base = qr_raster(text, 6).astype(np.int16)
    noise = np.random.default_rng(seed).normal(0, sigma, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_a_clean_code_is_read_by_the_first_tier_with_all_its_error_correction_spare():
    auto = make_decoder("auto")
    assert auto.reads(qr_raster(TEXT)) == [Read(TEXT, FIRST, 1.0)]
    assert auto.quick_looks == auto.second_tries == 0


def test_micro_qr_is_never_read():
    import zxingcpp

    image = micro_raster("12345")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == ["12345"]     # the library's QR family includes it
    for name in qr.DECODERS:
        assert make_decoder(name).decode(image) == []


def test_a_qr_code_beside_a_micro_qr_yields_only_the_qr_text():
    code, micro = qr_raster(TEXT), micro_raster("058646")
    frame = np.full((max(code.shape[0], micro.shape[0]), code.shape[1] + micro.shape[1]),
                    238, dtype=np.uint8)
    frame[:code.shape[0], :code.shape[1]] = code
    frame[:micro.shape[0], code.shape[1]:] = micro
    assert make_decoder("auto").decode(frame) == [TEXT]


@pytest.mark.parametrize("seed", range(4))
def test_the_quick_look_reads_noisy_modules_the_first_tier_cannot(seed):
    image = noisy(TEXT, seed)
    assert make_decoder("zxing").decode(image) == []
    auto = make_decoder("auto")
    [read] = auto.reads(image)
    assert (read.text, read.step) == (TEXT, QUICK)
    assert auto.quick_looks == 1 and auto.second_tries == 0


class StubZxing:
    """zxing-cpp's answers per step: (reads, failed corners); records the images it saw."""

    def __init__(self, answers: dict) -> None:
        self.answers = answers
        self.seen: list[tuple[str, tuple]] = []

    def read(self, gray, binarizer="LocalAverage", *, step=FIRST, downscale=True):
        self.seen.append((step, gray.shape))
        return self.answers.get(step, ([], []))


class StubZbar:
    def __init__(self) -> None:
        self.calls = 0

    def read(self, gray, step="zbar"):
        self.calls += 1
        return [Read("ZBAR", step)] if step == "zbar" else []


def stubbed(answers: dict) -> PipelineDecoder:
    decoder = PipelineDecoder()
    decoder.zxing, decoder.zbar = StubZxing(answers), StubZbar()
    return decoder


def test_nothing_found_costs_only_the_quick_look_on_a_half_size_frame():
    decoder = stubbed({})
    assert decoder.reads(np.zeros((480, 640), np.uint8)) == []
    assert decoder.zxing.seen == [(FIRST, (480, 640)), (QUICK, (240, 320))]
    assert decoder.zbar.calls == 0 and decoder.second_tries == 0


def test_a_symbol_the_quick_look_located_triggers_the_third_tier_at_full_scale(monkeypatch):
    square = [(100, 50), (150, 50), (150, 100), (100, 100)]     # on the half-size frame
    decoder = stubbed({QUICK: ([], [square])})
    assert decoder.reads(np.zeros((480, 640), np.uint8)) == [Read("ZBAR", "zbar")]
    crops = []
    monkeypatch.setattr(qr, "_enlarged_crop", lambda gray, corners: crops.append(corners))
    decoder.zbar.read = lambda gray, step="zbar": []
    assert decoder.reads(np.zeros((480, 640), np.uint8)) == []
    assert crops == [[(200, 100), (300, 100), (300, 200), (200, 200)]]
    assert decoder.second_tries == 2


@pytest.mark.parametrize("shape", [(1, 1), (1, 100), (41, 300)])
def test_images_too_small_to_halve_into_a_code_get_no_quick_look(shape):
    auto = make_decoder("auto")
    assert auto.decode(np.full(shape, 200, np.uint8)) == []
    assert auto.quick_looks == 0


def test_a_symbol_the_first_tier_located_skips_the_quick_look():
    decoder = stubbed({FIRST: ([], [[(0, 0), (9, 0), (9, 9), (0, 9)]])})
    assert decoder.reads(np.zeros((100, 100), np.uint8)) == [Read("ZBAR", "zbar")]
    assert [step for step, _ in decoder.zxing.seen] == [FIRST]
    assert decoder.quick_looks == 0 and decoder.second_tries == 1


def test_reads_are_one_per_text_the_first_try_winning():
    decoder = stubbed({FIRST: ([Read("A", FIRST, 1.0), Read("A", FIRST, 0.2),
                                Read("B", FIRST, 0.9)], [])})
    assert decoder.reads(np.zeros((50, 50), np.uint8)) == [Read("A", FIRST, 1.0),
                                                          Read("B", FIRST, 0.9)]
