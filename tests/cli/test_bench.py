"""`checkpoint bench`: decode figures for our decoder and the zbar baseline, table or JSON."""

from __future__ import annotations

import json

from cli.main import main


def test_bench_json_has_every_size_and_content_for_both_decoders(capsys):
    assert main(["bench", "--json", "--frames", "3", "--only", "decode"]) == 0
    figures = json.loads(capsys.readouterr().out)
    rows = figures["decode"]["rows"]
    assert [(row["size"], row["content"]) for row in rows] == [
        ("640x480", "empty"), ("640x480", "code"), ("1280x720", "empty"), ("1280x720", "code")]
    for row in rows:
        for name in ("auto", "zbar"):
            assert 0 < row[name]["median_ms"] <= row[name]["p99_ms"]
        if row["content"] == "empty":
            assert row["auto"]["read"] == row["zbar"]["read"] == 0   # no false reads
        else:
            assert row["auto"]["read"] == 3


def test_bench_table_and_bad_frame_count(capsys):
    assert main(["bench", "--frames", "1", "--only", "decode"]) == 0
    table = capsys.readouterr().out
    assert "auto med" in table and "zbar med" in table and "1280x720" in table
    assert main(["bench", "--frames", "0"]) == 2
    assert "--frames 0" in capsys.readouterr().err


def test_bench_latency_times_real_simulated_decisions(demo_dir, capsys):
    config = str(demo_dir / "checkpoint.toml")
    assert main(["bench", "--json", "--only", "latency", "--decisions", "3",
                 "--config", config]) == 0
    figures = json.loads(capsys.readouterr().out)["latency"]
    assert figures["decisions"] == 3
    assert 0 < figures["median_ms"] <= figures["p99_ms"] <= figures["max_ms"] < 2000
