"""The cards section: taps through the real drivers and the agent's tokeniser are timed."""

from __future__ import annotations

import json

from cli.main import main


def test_the_cards_bench_times_taps_on_every_path(capsys, monkeypatch):
    from bench import cards

    real = cards.measure
    monkeypatch.setattr(cards, "measure", lambda: real(taps=10, pn532_taps=3))
    assert main(["bench", "--json", "--only", "cards"]) == 0
    rows = {row["path"]: row for row in json.loads(capsys.readouterr().out)["cards"]["rows"]}
    assert set(rows) == {"hash", "hid", "pn532"}
    assert (rows["hash"]["taps"], rows["hid"]["taps"], rows["pn532"]["taps"]) == (100, 10, 3)
    for row in rows.values():
        assert 0 <= row["median_ms"] <= row["p99_ms"]
