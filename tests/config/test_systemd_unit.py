"""config/systemd/checkpoint.service: what systemd makes of it, and what it promises the
agent (notify + watchdog, its own user with the device groups, state in /var/lib, config
in /etc) without a sandbox setting that would hide the serial port, camera or GPIO chip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cli.main import build_parser
from tests.support.paths import REPO

UNIT = REPO / "config" / "systemd" / "checkpoint.service"
INSTALLED_BINARY = "/opt/checkpoint/current/bin/checkpoint"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze missing: scripts/install.sh installs systemd")


def settings(text: str) -> dict[str, list[str]]:
    """Every key's values, in order (systemd allows a key more than once)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def verify(unit_text: str, folder: Path) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` on a copy whose ExecStart names an executable that exists:
    verify refuses a missing binary, and the release tree exists only on a gate."""
    binary = folder / "bin" / "checkpoint"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    unit = folder / "checkpoint.service"
    unit.write_text(unit_text.replace(INSTALLED_BINARY, str(binary)))
    return subprocess.run([ANALYZE, "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60)


@needs_analyze
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    done = verify(UNIT.read_text(), tmp_path)
    # verify exits 0 on settings it ignores: silence is the pass.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@needs_analyze
def test_verify_as_run_here_does_notice_a_mistyped_setting(tmp_path):
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=stict")
    assert "stict" in verify(broken, tmp_path).stderr


def test_the_agent_is_a_notify_service_with_a_watchdog():
    unit = settings(UNIT.read_text())
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["WatchdogSec"] == ["30"]
    assert unit["Restart"] == ["on-failure"]


def test_it_runs_as_its_own_user_with_the_device_groups():
    unit = settings(UNIT.read_text())
    assert unit["User"] == ["checkpoint"] and unit["Group"] == ["checkpoint"]
    assert set(unit["SupplementaryGroups"][0].split()) == {"dialout", "video", "gpio"}
    assert unit["StateDirectory"] == ["checkpoint"]


def test_execstart_is_a_command_line_checkpoint_accepts():
    (command,) = settings(UNIT.read_text())["ExecStart"]
    binary, *arguments = command.split()
    assert binary == INSTALLED_BINARY
    parsed = build_parser().parse_args(arguments)
    assert parsed.command == "run"
    assert str(parsed.config) == "/etc/checkpoint/checkpoint.toml"


def test_hardened_without_hiding_the_hardware():
    unit = settings(UNIT.read_text())
    assert unit["ProtectSystem"] == ["strict"] and unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectHome"] == ["yes"] and unit["PrivateTmp"] == ["yes"]
    # Each of these would refuse /dev/ttyUSB0, /dev/video0 or /dev/gpiochip0 (ProtectClock
    # through the DeviceAllow= list it implies), or map the device groups away.
    breaking = {"PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock",
                "PrivateUsers"}
    assert not breaking & set(unit)
    # The store and the district's pushed bundles stay writable under ProtectSystem=strict.
    assert unit["ReadWritePaths"] == ["/etc/checkpoint"]
