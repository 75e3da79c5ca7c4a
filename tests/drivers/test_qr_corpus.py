"""The real decoder over the shared public QR corpus (qr/ of the corpus), in one pass.

The corpus is outside the repository: ../shared/corpus, or $CHECKPOINT_CORPUS (see
bench/corpus.py); without it these tests skip, saying where it was looked for.

Reference figures (PROVENANCE.md): zxing-cpp alone reads 219 of the 234 codes, zxing-cpp
with zbar on undecodable symbols 222. Our decoder with its quick look reads 227 (228 in
truth: zxing/qrcode-2/13.txt has "photograph" where the code, like zxing-cpp's copy of the
same photo, says "photography"); nothing may be read in the photos without a code, and
none of them may cost a third-tier try (docs/reading.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from drivers.qr import QR_MIN_MODULES, make_decoder
from tests.support.corpus import corpus_or_skip
from tests.support.paths import REPO

AUTO_FLOOR = 226
DEGENERATE = {"1x1.webp", "1x100.webp"}


def _corpus_reader():
    script = REPO / "scripts" / "corpus_read.py"
    spec = importlib.util.spec_from_file_location("corpus_read", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def auto_report():
    corpus = corpus_or_skip("qr")
    reader = _corpus_reader()
    cases = reader.corpus_cases(corpus)
    return reader.read_corpus(make_decoder("auto"), cases), cases


def test_auto_decoder_reads_at_least_the_reference_count(auto_report):
    report, _ = auto_report
    print(f"auto decoder: {report.codes_read} / {report.codes_total} codes read exactly")
    assert report.codes_total == 234
    assert report.codes_read >= AUTO_FLOOR


def test_nothing_is_read_in_photos_without_a_code(auto_report):
    report, cases = auto_report
    assert report.false_reads == []
    empty_scanned = sum(n for folder, n in report.total.items() if "falsepositives" in folder)
    assert empty_scanned == sum(case.empty for case in cases) - len(DEGENERATE) > 0


def test_photos_without_a_code_cost_the_quick_look_and_never_the_third_tier():
    from drivers.camera_opencv import read_image

    corpus = corpus_or_skip("qr")
    auto = make_decoder("auto")
    images = [read_image(case.path) for case in _corpus_reader().corpus_cases(corpus)
              if case.empty]
    for image in (image for image in images if image is not None):
        assert auto.decode(image) == []
    halvable = [image for image in images
                if image is not None and min(image.shape[:2]) >= 2 * QR_MIN_MODULES]
    assert auto.quick_looks == len(halvable) > 40
    assert auto.second_tries == 0


def test_the_script_compares_empty_photo_times_with_zxing_alone_in_the_same_run(capsys):
    corpus = corpus_or_skip("qr")
    assert _corpus_reader().main([str(corpus), "--decoders", "zxing,auto"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("   without a code, median / zxing-cpp alone's in this run: auto ")
    assert last.endswith("x")


def test_degenerate_files_are_input_errors_not_crashes(auto_report):
    report, _ = auto_report
    assert {Path(path).name for path in report.unreadable} == DEGENERATE
