"""Shared fixtures: a demo district made by the real provisioning script, once per session."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.broker import Broker, free_port
from tests.support.paths import REPO


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """config/-like folder: the shipped config files plus a fresh demo/ district."""
    folder = tmp_path_factory.mktemp("config")
    for name in ("checkpoint.toml", "demo-scenario.toml", "lane-scenario.toml"):
        shutil.copy(REPO / "config" / name, folder / name)
    # `checkpoint run` serves the console: on a port of the tests' own, not the demo's 8080
    config = folder / "checkpoint.toml"
    config.write_text(config.read_text().replace('listen = "127.0.0.1:8080"',
                                                 f'listen = "127.0.0.1:{free_port()}"'))
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo.py"),
                    str(folder / "demo")], check=True, capture_output=True)
    return folder


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free loopback port, stopped after the test."""
    folder = tmp_path / "broker"
    folder.mkdir()
    server = Broker(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def decoder():
    """The gate's QR decoder, as the agent makes it."""
    from drivers.qr import make_decoder

    return make_decoder("auto")


@pytest.fixture
def events(caplog):
    """caplog, with the `event=...` lines logged while the test runs."""
    caplog.set_level(logging.INFO, logger="checkpoint")
    checkpoint = logging.getLogger("checkpoint")
    direct = not checkpoint.propagate   # runtime.logs.setup() turns propagation off
    if direct:
        checkpoint.addHandler(caplog.handler)
    yield caplog
    if direct:
        checkpoint.removeHandler(caplog.handler)
