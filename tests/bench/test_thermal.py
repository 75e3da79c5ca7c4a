"""`checkpoint bench --only thermal`: parser throughput for every protocol."""

from __future__ import annotations

import json

from cli.main import main


def test_thermal_section_reports_every_protocol(capsys):
    assert main(["bench", "--json", "--only", "thermal"]) == 0
    rows = json.loads(capsys.readouterr().out)["thermal"]["rows"]
    assert [row["protocol"] for row in rows] == ["gy-mcu90614", "gy-mcu90615", "gy-mcu90640",
                                                 "ascii"]
    for row in rows:
        assert row["frames"] > 0 and row["frame_fps"] > 0 and row["reading_fps"] > 0
    assert main(["bench", "--only", "thermal"]) == 0
    assert "frames per second of CPU" in capsys.readouterr().out
