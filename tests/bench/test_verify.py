"""The `verify` section of `checkpoint bench` (figures only; timing is judged by reading
the bench, not asserted here)."""

from __future__ import annotations

from bench.verify import DCC_CORPUS, measure_verify, show_verify
from cli.bench import SECTIONS


def test_verify_section_measures_throughput_and_refusals(capsys):
    assert "verify" in [section.name for section in SECTIONS]
    figures = measure_verify(seconds=0.05)
    rows = figures["throughput"]
    assert rows["CP1 ES256"]["passes"] > 0 and "error" not in rows["CP1 ES256"]
    if DCC_CORPUS.is_dir():
        assert rows["HC1 ES256"]["per_s"] > 0 and rows["HC1 PS256"]["per_s"] > 0
    reasons = {name: row["reason"] for name, row in figures["rejections"].items()}
    assert reasons == {"zlib bomb CP1": "malformed", "zlib bomb HC1": "malformed",
                       "1 MB CP1 text": "malformed", "1 MB random": "unknown_format"}
    show_verify(figures)
    table = capsys.readouterr().out
    assert "passes/s" in table and "zlib bomb HC1" in table
