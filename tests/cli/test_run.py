"""`checkpoint run --simulate` end to end: the real decoder on rendered frames, the real
serial driver on a pty, the real verifier and policy, a real SQLite file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_until_decisions
from tests.support.paths import CHECKPOINT, REPO

SCENARIO = """
issuer_key = "demo/issuer-key.pem"
present_s = 1.6
gap_s = 0.8
loop = false
{people}
"""
PEOPLE = [("green", 36.5), ("yellow", 36.6), ("red", 36.7), ("expired", 36.4),
          ("forged", 36.5), ("green", 38.6)]
EXPECTED = [("pass", []), ("deny", ["color_yellow"]), ("deny", ["color_red"]),
            ("deny", ["pass_expired"]), ("deny", ["bad_signature"]), ("deny", ["fever"])]


def write_scenario(folder: Path) -> None:
    people = "\n".join(f'[[person]]\npass = "{kind}"\ntemperature_c = {temp}'
                       for kind, temp in PEOPLE)
    (folder / "demo-scenario.toml").write_text(SCENARIO.format(people=people))


@pytest.mark.slow
def test_simulated_run_decides_every_kind_of_pass(demo_dir, tmp_path):
    write_scenario(demo_dir)
    db = tmp_path / "cp.db"
    code, lines, err = run_until_decisions(
        ["run", "--config", str(demo_dir / "checkpoint.toml"), "--simulate", "--db", str(db)],
        count=len(PEOPLE))
    assert code == 0, err
    assert "Traceback" not in err
    assert sum("event=decision" in line for line in lines) == len(PEOPLE)
    assert any("event=stopped" in line for line in lines)

    out = subprocess.run(CHECKPOINT + ["records", "--db", str(db)], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["decision"], r["reasons"]) for r in records] == EXPECTED
    assert [r["seq"] for r in records] == list(range(1, len(PEOPLE) + 1))
    fever = records[-1]
    assert fever["temperature_c"] == pytest.approx(38.6, abs=0.05)
    assert all(r["synced"] is False and r["gate"] == "east-1" for r in records)
    assert records[0]["subject"] and records[0]["pass_exp"].endswith("Z")


def test_user_mistakes_exit_2_without_traceback(demo_dir, tmp_path):
    broken = tmp_path / "broken.toml"
    text = (demo_dir / "checkpoint.toml").read_text()
    broken.write_text(text.replace('gate = "east-1"', 'gate = "east-1"\ngaet = 2'))
    missing_trust = tmp_path / "missing.toml"
    missing_trust.write_text(text.replace('"demo/trustlist.json"', '"nowhere.json"')
                             .replace('"demo/', f'"{demo_dir}/demo/'))
    no_camera = demo_dir / "no-camera.toml"
    no_camera.write_text(text.replace('"sim://demo-scenario.toml"', '"file:///no/such.mp4"'))
    cases = [(broken, "gaet"), (missing_trust, "nowhere.json"), (no_camera, "/no/such.mp4")]
    for config, needle in cases:
        proc = subprocess.run(CHECKPOINT + ["run", "--config", str(config), "--duration", "5",
                                            "--db", str(tmp_path / "x.db")],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (config, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        *problems, summary = proc.stderr.strip().splitlines()   # each problem, then one line
        assert summary.startswith("checkpoint: ")
        assert all(line.startswith(f"config {config}: ") for line in problems)
