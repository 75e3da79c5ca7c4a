"""`checkpoint guard add`: the PIN from stdin, only its hash in a file only its owner reads;
`config check` names a broken guards file."""

from __future__ import annotations

import shutil
import stat
import subprocess

from edge.config import load_config
from edge.configcheck import check
from edge.guards import pin_matches, read_guards
from tests.support.paths import CHECKPOINT, REPO


def guard_add(path, guard: str, pin: str) -> subprocess.CompletedProcess:
    return subprocess.run(CHECKPOINT + ["guard", "add", "--file", str(path), "--id", guard],
                          input=pin + "\n", cwd=REPO, capture_output=True, text=True)


def test_guards_are_added_with_hashed_pins_and_bad_input_is_refused(tmp_path):
    path = tmp_path / "guards"
    assert guard_add(path, "g01", "246810").returncode == 0
    done = guard_add(path, "g02", "1357")
    assert done.returncode == 0 and done.stdout == f"guard g02 saved in {path} (2 guards)\n"
    assert guard_add(path, "g01", "9999").returncode == 0          # a new PIN for g01
    guards = read_guards(path)
    assert sorted(guards) == ["g01", "g02"] and pin_matches(guards["g01"], "9999")
    assert "9999" not in path.read_text() and "246810" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bad_pin = guard_add(path, "g03", "12ab")
    assert bad_pin.returncode == 2 and "4 to 12 digits" in bad_pin.stderr
    bad_id = guard_add(path, "g 3", "1234")
    assert bad_id.returncode == 2 and "--id 'g 3'" in bad_id.stderr
    assert "Traceback" not in bad_pin.stderr + bad_id.stderr


def test_config_check_names_a_broken_guards_file(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config_path = own / "checkpoint.toml"
    text = config_path.read_text().replace("[console]\n", '[console]\nguards = "guards"\n')
    config_path.write_text(text)
    (own / "guards").write_text("g01 not-a-hash\n")
    found = [f.text for f in check(load_config(config_path)) if f.level == "error"]
    assert found == [f"[console] guards {own / 'guards'} line 1: expected `ID scrypt$...` "
                     "(made by `checkpoint guard add`)"]
    refused = guard_add(own / "guards", "g01", "2468")    # a broken file is not rewritten
    assert refused.returncode == 2 and "line 1" in refused.stderr
    (own / "guards").unlink()
    assert guard_add(own / "guards", "g01", "2468").returncode == 0
    assert check(load_config(config_path)) == []
