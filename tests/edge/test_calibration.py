"""`checkpoint calibrate`: a blackbody's readings in, the offset written to the config file."""

from __future__ import annotations

import json
import subprocess

import pytest

from edge.calibration import CalibrationError, calibrate, with_offset
from tests.support.paths import CHECKPOINT, REPO

CONFIG = """# device config
[device]
id = "x"   # the id

[thermal]
# the sensor
url = "sim://"
offset_c = 0.0   # set by checkpoint calibrate

[gate]
url = "sim://"
"""


def test_offset_line_is_replaced_and_nothing_else():
    text = with_offset(CONFIG, 0.42)
    assert text == CONFIG.replace("offset_c = 0.0   #", "offset_c = 0.42   #")


def test_offset_is_added_to_a_thermal_table_without_one():
    text = CONFIG.replace("offset_c = 0.0   # set by checkpoint calibrate\n", "")
    assert with_offset(text, -0.3) == text.replace('url = "sim://"\n\n[gate]',
                                                  'url = "sim://"\noffset_c = -0.3\n\n[gate]')


def test_a_config_without_thermal_table_gets_one():
    assert with_offset('[device]\nid = "x"', 0.5) == \
        '[device]\nid = "x"\n\n[thermal]\noffset_c = 0.5\n'


def test_other_tables_and_line_endings_are_kept():
    text = "[other]\r\noffset_c = 9\r\n[thermal]\r\noffset_c = 1.0\r\n"
    assert with_offset(text, 0.25) == "[other]\r\noffset_c = 9\r\n[thermal]\r\noffset_c = 0.25\r\n"


def test_calibration_from_steady_readings():
    result = calibrate([36.55, 36.6, 36.58, 36.62, 36.6, 36.57], 37.0)
    assert (result.measured_c, result.offset_c, result.readings) == (36.59, 0.41, 6)


@pytest.mark.parametrize("readings, message", [
    ([36.5] * 3, "only 3 readings"),
    ([36.0, 36.5, 37.0, 36.2, 36.8, 36.4], "spread"),
    ([24.0] * 10, "outside -5.0..5.0"),
])
def test_untrustworthy_readings_give_no_offset(readings, message):
    with pytest.raises(CalibrationError, match=message):
        calibrate(readings, 37.0)


def test_cli_writes_the_offset_into_the_config(demo_dir):
    config = demo_dir / "calibrate-checkpoint.toml"
    original = (demo_dir / "checkpoint.toml").read_text()
    config.write_text(original)
    result = subprocess.run(CHECKPOINT + ["calibrate", "--config", str(config), "--reference",
                                          "37.0", "--url", "sim://?profile=normal",
                                          "--seconds", "1.5"],
                            cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert 0.3 <= line["offset_c"] <= 0.5 and line["readings"] >= 8 and line["written"]
    assert config.read_text() == original.replace("offset_c = 0.0",
                                                  f"offset_c = {line['offset_c']}")


def test_cli_refuses_a_sensor_that_is_not_steady(demo_dir):
    config = demo_dir / "calibrate-walk.toml"
    original = (demo_dir / "checkpoint.toml").read_text()
    config.write_text(original)
    result = subprocess.run(CHECKPOINT + ["calibrate", "--config", str(config), "--reference",
                                          "37.0", "--url", "sim://?profile=walk",
                                          "--seconds", "2.2"],
                            cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "calibration failed: readings spread" in result.stderr
    assert config.read_text() == original
