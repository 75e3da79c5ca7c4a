"""The reader fuzzer over a million random bytes (the issue's bar): both runs report their
bytes, and no frame or tap that the stream did not carry is accepted."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "fuzz_reader.py"


def test_fuzz_reader_over_a_megabyte_accepts_nothing_bogus():
    done = subprocess.run([sys.executable, str(SCRIPT), "--megabytes", "1", "--seed", "3",
                           "--json"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    report = json.loads(done.stdout)
    codec, driver = report["runs"]
    assert codec["bytes"] >= 1_000_000 and driver["bytes"] >= 1_000_000
    assert codec["violations"] == 0 and codec["rejected"] > 0 and codec["accepted"] > 0
    assert driver["bogus_taps"] == 0 and driver["taps"] > 0 and driver["frames_rejected"] > 0
    assert report["ok"]
