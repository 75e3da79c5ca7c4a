"""A user's mistake ends in one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from cli.main import main
from tests.support import independent_cp1 as ind
from tests.support.paths import CHECKPOINT, REPO


def _fails_in_one_line(args, capsys, *words) -> str:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", err
    assert err.startswith("checkpoint: ") and err.count("\n") == 1, err
    assert all(word in err for word in words), err
    return err


@pytest.mark.parametrize("args", [
    ["thermal", "read", "sim://", "--timeout", "inf"],
    ["thermal", "read", "sim://", "--timeout", "nan"],
    ["calibrate", "--reference", "37", "--seconds", "inf"],
    ["run", "--simulate", "--duration", "inf"],
    ["run", "--simulate", "--duration", "nan"],
    ["keys", "rotate", "--trustlist", "t.json", "--out", "k", "--overlap", "inf"],
    ["district", "trace", "ab", "--window", "nan"],
], ids=lambda args: " ".join(args[:2] + args[-2:]))
def test_a_number_that_is_not_finite_is_refused(args, capsys):
    _fails_in_one_line(args, capsys, args[-2])


def test_issue_png_with_a_name_no_image_format_has(tmp_path, capsys):
    assert main(["keys", "new", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    _fails_in_one_line(["issue", "--key", str(tmp_path / "key.pem"), "--color", "green",
                        "--png", str(tmp_path / "pass.nope")], capsys, "--png", "pass.nope")


def test_verify_stdin_line_that_is_not_utf8_is_an_input_error(demo_dir):
    demo = demo_dir / "demo"
    now = int(time.time())
    text = ind.make_pass(ind.load_key(demo / "issuer-key.pem"), color="red", iat=now - 5,
                         exp=now + 115)
    done = subprocess.run(
        [*CHECKPOINT, "verify", "--trust", str(demo / "trustlist.json"),
         "--root", str(demo / "root-pub.pem"), "-"],
        input=b"\xff\xfe not utf-8\n" + text.encode() + b"\n", capture_output=True,
        timeout=60, env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode() == "checkpoint: stdin line 1: not UTF-8 text\n"
    [judged] = [json.loads(line) for line in done.stdout.splitlines()]
    assert judged["reasons"] == ["color_red"]       # the other lines are still judged


def test_calibrate_that_cannot_write_the_config_says_so(demo_dir, capsys):
    config = demo_dir / "calibrate-unwritable.toml"
    original = (demo_dir / "checkpoint.toml").read_text()
    config.write_text(original)
    blocker = config.with_name(f".{config.name}.calibrate")    # where the new text goes first
    blocker.mkdir()
    try:
        _fails_in_one_line(["calibrate", "--config", str(config), "--reference", "37.0",
                            "--url", "sim://?profile=normal", "--seconds", "1.5"],
                           capsys, "not written")
    finally:
        blocker.rmdir()
    assert config.read_text() == original


def test_no_command_is_a_usage_error():
    done = subprocess.run(CHECKPOINT, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
