"""`checkpoint scan FILE...`: one JSON line per file, errors per file, exit 2 on any error."""

from __future__ import annotations

import json
import os
import subprocess

import cv2
import numpy as np

from cli.main import main
from drivers.sim.render import Renderer
from tests.support.corpus import corpus_or_skip
from tests.support.paths import CHECKPOINT


def _scan(capsys, *files) -> tuple[int, list[dict]]:
    status = main(["scan", *map(str, files)])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def test_images_give_their_codes_and_decode_time(tmp_path, capsys):
    rng = np.random.default_rng(2)
    renderer = Renderer((1280, 720))
    cv2.imwrite(str(tmp_path / "pass.png"), renderer.frame("CP1:SCAN-ME", rng))
    cv2.imwrite(str(tmp_path / "gate.jpg"), renderer.frame(None, rng))
    status, lines = _scan(capsys, tmp_path / "pass.png", tmp_path / "gate.jpg")
    assert status == 0
    assert [(line["file"], line["codes"]) for line in lines] == [
        (str(tmp_path / "pass.png"), ["CP1:SCAN-ME"]), (str(tmp_path / "gate.jpg"), [])]
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)


def test_corpus_images_and_a_degenerate_webp(capsys):
    corpus = corpus_or_skip("qr")
    good = corpus / "zxing" / "qrcode-1" / "1.png"
    broken = corpus / "zxing-cpp" / "falsepositives-1" / "1x1.webp"
    photo = corpus / "zxing" / "falsepositives-2" / "01.png"
    status, lines = _scan(capsys, good, broken, photo)
    assert status == 2
    assert lines[0]["codes"] == [good.with_suffix(".txt").read_bytes().decode("utf-8")]
    assert lines[1] == {"file": str(broken), "error": "not a readable image"}
    assert lines[2]["codes"] == []


def test_video_lists_each_distinct_code_once(tmp_path, capsys):
    path = tmp_path / "gate.avi"
    rng = np.random.default_rng(4)
    renderer = Renderer((640, 480))
    shown = [None, "CP1:ALPHA", "CP1:ALPHA", None, "CP1:BETA", "CP1:ALPHA"]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    for text in shown:
        writer.write(renderer.frame(text, rng))
    writer.release()
    status, [line] = _scan(capsys, path)
    assert status == 0
    assert line["codes"] == ["CP1:ALPHA", "CP1:BETA"]
    assert line["ms"] > 0


def test_missing_and_unreadable_files_are_reported_and_the_rest_still_scanned(
        tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "ok.png"), Renderer((640, 480)).frame(
        "CP1:STILL-READ", np.random.default_rng(0)))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG truncated")
    status, lines = _scan(capsys, tmp_path / "missing.png", tmp_path / "notes.txt",
                          tmp_path / "bad.png", tmp_path / "ok.png")
    assert status == 2
    assert [line.get("error") for line in lines] == [
        "no such file", "not a readable image or video", "not a readable image", None]
    assert lines[3]["codes"] == ["CP1:STILL-READ"]


def test_a_directory_and_a_missing_path_are_named_on_stdout_and_stderr(tmp_path, capsys):
    image = tmp_path / "pass.png"
    cv2.imwrite(str(image), Renderer((640, 480)).frame("CP1:AFTER-ERRORS",
                                                        np.random.default_rng(5)))
    folder, missing = tmp_path / "photos", tmp_path / "gone.png"
    folder.mkdir()
    status = main(["scan", str(folder), str(missing), str(image)])
    out, err = capsys.readouterr()
    assert status == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[:2] == [{"file": str(folder), "error": "is a directory"},
                         {"file": str(missing), "error": "no such file"}]
    assert lines[2]["file"] == str(image) and lines[2]["codes"] == ["CP1:AFTER-ERRORS"]
    assert err.splitlines() == [f"checkpoint: scan: {folder}: is a directory",
                                f"checkpoint: scan: {missing}: no such file"]


def test_a_file_name_that_is_not_utf8_still_gives_a_json_line(tmp_path):
    name = os.fsdecode(bytes(tmp_path) + b"/\xff.png")    # undecodable: a surrogate escape
    done = subprocess.run([*CHECKPOINT, "scan", name], capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout) == {"file": name, "error": "no such file"}
    assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr
