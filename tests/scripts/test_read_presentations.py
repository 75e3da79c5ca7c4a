"""The reading soak runs end to end on a few presentations, counts a misread as one, and
fails the run on it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from drivers.qr import FIRST, Read
from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "read_presentations.py"


@pytest.fixture(scope="module")
def soak_module():
    spec = importlib.util.spec_from_file_location("read_presentations", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class Liar:
    """The real decoder, plus `wrong` added to the frames `when(n)` picks."""

    def __init__(self, wrong: Read, when) -> None:
        from drivers.qr import make_decoder

        self.real, self.wrong, self.when, self.frames = make_decoder("auto"), wrong, when, 0

    def reads(self, image):
        self.frames += 1
        return self.real.reads(image) + ([self.wrong] if self.when(self.frames) else [])


def test_a_small_run_reads_the_default_look_and_misreads_nothing():
    done = subprocess.run([sys.executable, str(SCRIPT), "--presentations", "7", "--seed", "3",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    total = result["total"]
    assert total["presentations"] == 7 == total["read"] + total["missed"]
    assert total["misreads"] == 0
    assert list(result["looks"]) == ["default", "blurry", "glare", "tilted", "small", "hard",
                                     "hd"]
    assert result["looks"]["default"]["read"] == result["looks"]["default"]["first_frame"] == 1


def test_a_wrong_text_in_one_frame_is_caught_not_emitted(soak_module):
    liar = Liar(Read("058646", FIRST, 0.0), when=lambda frame: frame == 2)
    result = soak_module.figures(soak_module.soak(2, seed=3, frames=3, decoder=liar))
    assert result["caught"] == {FIRST: 1}
    assert result["total"]["misreads"] == 0


def test_a_wrong_text_the_scanner_trusts_is_a_misread_and_fails_the_run(soak_module,
                                                                         monkeypatch, capsys):
    liar = Liar(Read("https://example.org", FIRST, 1.0), when=lambda frame: frame == 1)
    monkeypatch.setattr("drivers.qr.make_decoder", lambda name: liar)
    assert soak_module.main(["--presentations", "1", "--frames", "2"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "MISREAD 'https://example.org'"
    [total] = [line.split() for line in lines if line.split()[:1] == ["total"]]
    assert total[1:5] == ["1", "1", "0", "1"]     # shown, read, missed, misreads
