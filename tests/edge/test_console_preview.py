"""The console's live camera preview: off unless the config turns it on, then a stream of
JPEG frames of the real (simulated) camera, made on demand and never written anywhere."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from edge.agent import Agent
from edge.config import Section, load_config
from tests.support.broker import free_port


def console_config(demo_dir, tmp_path, preview: bool):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    return replace(config, console=Section({**config.console.values, "preview": preview,
                                            "listen": f"127.0.0.1:{free_port()}"})), own


def test_the_preview_is_off_by_default(demo_dir, tmp_path):
    config, _ = console_config(demo_dir, tmp_path, preview=False)
    with Agent(config, console=True), pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{config.console.listen}/preview.mjpg", timeout=10)
    assert refused.value.code == 404 and b"preview_off" in refused.value.read()


def test_when_on_the_preview_streams_jpeg_frames_and_stores_none(demo_dir, tmp_path):
    config, own = console_config(demo_dir, tmp_path, preview=True)
    url = f"http://{config.console.listen}/preview.mjpg"
    with Agent(config, console=True), urllib.request.urlopen(url, timeout=10) as stream:
        kind = stream.headers["Content-Type"]
        head = b""
        while head.count(b"\xff\xd8") < 2 and len(head) < 2_000_000:
            head += stream.read1(65536)
    assert kind == "multipart/x-mixed-replace; boundary=frame"
    assert head.startswith(b"--frame\r\nContent-Type: image/jpeg\r\n")
    assert head.count(b"\xff\xd8") >= 2                   # frame after frame
    written = [p for p in (*own.rglob("*"), *tmp_path.glob("*"))
               if p.suffix.lower() in (".jpg", ".jpeg", ".mjpg")]
    assert written == []
