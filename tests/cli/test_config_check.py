"""`checkpoint config check` says what `run` will meet, all at once, and `run` refuses the
same config with the same lines instead of a traceback."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.paths import CHECKPOINT, REPO


def checkpoint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CHECKPOINT + list(args), cwd=REPO, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def pi(tmp_path):
    """The shipped Raspberry Pi config, in a folder without the files it names."""
    shutil.copy(REPO / "config" / "pi.toml", tmp_path / "pi.toml")
    return tmp_path / "pi.toml"


@pytest.mark.parametrize("command", [["config", "check", "--config"], ["run", "--config"]])
def test_every_missing_file_is_named_in_one_run(pi, command):
    done = checkpoint(*command, str(pi))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    for name in ("root.pem", "trustlist.json", "revocations.json", "policy.json",
                 "subject.key", "tls/ca.pem", "tls/device.pem", "tls/device.key"):
        assert any(str(pi.parent / name) in line for line in lines), name
    assert lines[-1] == f"checkpoint: config {pi}: 8 errors"


def test_empty_tls_files_are_refused_by_both_without_a_traceback(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    for name in ("ca.pem", "device.pem", "device.key"):
        (own / name).write_text("")
    config = own / "checkpoint.toml"
    text = config.read_text().replace('url = "mqtt://127.0.0.1:1883"',
                                      'url = "mqtts://127.0.0.1:8883"\nca = "ca.pem"\n'
                                      'cert = "device.pem"\nkey = "device.key"')
    config.write_text(text)
    for command in (["config", "check"], ["run", "--simulate"]):
        done = checkpoint(*command, "--config", str(config))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "not a PEM CA certificate" in done.stderr
        assert "not a PEM certificate and its private key" in done.stderr


def with_camera(demo_dir, tmp_path, url: str):
    """The demo config in a folder of its own, with this camera URL."""
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = own / "checkpoint.toml"
    config.write_text(config.read_text().replace('url = "sim://demo-scenario.toml"',
                                                 f'url = "{url}"'))
    return config


def test_unknown_driver_url_options_are_refused_by_the_check(demo_dir, tmp_path):
    config = with_camera(demo_dir, tmp_path, "sim://?colour=red")
    done = checkpoint("config", "check", "--config", str(config))
    assert done.returncode == 2
    assert "unknown option(s) colour; allowed: fps, fail_every" in done.stderr


def test_a_config_that_passes_is_ok_and_warns_of_absent_devices(demo_dir, tmp_path):
    config = with_camera(demo_dir, tmp_path, "v4l2:///dev/no-such-video")
    done = checkpoint("config", "check", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"config {config}: ok\n"
    assert done.stderr == (f"config {config}: warning: [camera] url = 'v4l2:///dev/no-such-"
                           "video': /dev/no-such-video is not present on this machine\n")
