"""The console section: every decision committed is matched to its time on the page."""

from __future__ import annotations

import json

import pytest

from bench.console import CHROMIUM, WARMUP, console_figures
from cli.main import main


def test_figures_leave_the_warm_up_out_and_count_what_never_reached_the_page():
    committed = {f"id{n}": 1000.0 * n for n in range(WARMUP + 4)}
    shown = {f"id{n}": 1000.0 * n + 5 * (n % 3 + 1) for n in range(WARMUP + 3)}  # last: none
    figures = console_figures(committed, shown, [20.0, 30.0, 40.0])
    assert (figures["decisions"], figures["missed"]) == (3, 1)
    assert figures["to_commit"]["median_ms"] == 30.0
    assert 5.0 <= figures["to_screen"]["median_ms"] <= 15.0


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}")
def test_the_console_bench_times_real_decisions_in_chromium(demo_dir, capsys):
    config = str(demo_dir / "checkpoint.toml")
    assert main(["bench", "--json", "--only", "console", "--decisions", "3",
                 "--config", config]) == 0
    figures = json.loads(capsys.readouterr().out)["console"]
    assert figures["decisions"] == 3 and figures["missed"] == 0
    assert 0 <= figures["to_screen"]["median_ms"] <= figures["to_screen"]["p99_ms"]
