"""Screening end to end: the agent on a scripted scene, the real serial driver on a pty.

A reading near the fever threshold must be measured twice (visible in the log and the
decision), a fever found on the re-measure is denied, and a silent sensor asks the guard
with `sensor_fault`: never a pass on a stale or missing reading.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_until_decisions
from tests.support.paths import CHECKPOINT, REPO

# The sensor sees each person approach_s before the code shows; the gap leaves it 0.3 s of
# background between two people, as at a real gate.
SCENARIO = """
issuer_key = "demo/issuer-key.pem"
present_s = {present_s}
gap_s = 0.8
approach_s = 0.5
loop = false
{people}
"""


def config_with(demo_dir: Path, name: str, people: list[tuple[str, float]],
                present_s: float, thermal_url: str = "sim://") -> Path:
    entries = "\n".join(f'[[person]]\npass = "{kind}"\ntemperature_c = {temp}'
                        for kind, temp in people)
    (demo_dir / f"{name}.toml").write_text(SCENARIO.format(present_s=present_s, people=entries))
    text = (demo_dir / "checkpoint.toml").read_text()
    text = text.replace('"sim://demo-scenario.toml"', f'"sim://{name}.toml"')
    text = re.sub(r'(\[thermal\]\n(?:#.*\n)*url = )"sim://"', rf'\1"{thermal_url}"', text)
    config = demo_dir / f"{name}-checkpoint.toml"
    config.write_text(text)
    return config


def records(db: Path) -> list[dict]:
    out = subprocess.run(CHECKPOINT + ["records", "--db", str(db)], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.slow
def test_near_threshold_readings_are_measured_twice(demo_dir, tmp_path):
    config = config_with(demo_dir, "screening-near", [("green", 37.45), ("green", 37.15)],
                         present_s=2.6)
    db = tmp_path / "cp.db"
    code, lines, err = run_until_decisions(
        ["run", "--config", str(config), "--simulate", "--db", str(db)], count=2)
    assert code == 0 and "Traceback" not in err, err
    got = [(r["decision"], r["reasons"], r["temperature_c"]) for r in records(db)]
    assert got == [("deny", ["fever"], 37.45), ("pass", [], 37.15)]
    screened = [line for line in lines if "event=screening state=ok" in line]
    assert len(screened) == 2, lines
    assert all("remeasured=True windows=2" in line and "kind=screening_estimate" in line
               for line in screened)
    assert "fever=True" in screened[0] and "fever=False" in screened[1]


@pytest.mark.slow
def test_silent_sensor_asks_the_guard_with_sensor_fault(demo_dir, tmp_path):
    config = config_with(demo_dir, "screening-fault", [("none", 36.5), ("green", 36.5)],
                         present_s=2.4, thermal_url="sim://?profile=fault")
    db = tmp_path / "cp.db"
    code, lines, err = run_until_decisions(["run", "--config", str(config), "--db", str(db)],
                                           count=1)
    assert code == 0 and "Traceback" not in err, err
    got = [(r["decision"], r["reasons"], r["temperature_c"]) for r in records(db)]
    assert got == [("check", ["sensor_fault"], None)]
    assert any("event=screening state=sensor_fault" in line for line in lines)
