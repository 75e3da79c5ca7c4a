"""scripts/install-pi.sh against a temporary root (`--root`): what a technician gets on a
gate, that a second run changes nothing, that an upgrade failing `doctor` puts the old
release back, and that `--uninstall --purge` leaves the system as it was.

One install is shared by the module (building a release's virtualenv takes ~20 s); the
tests run in file order and each compares against the tree as it found it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "install-pi.sh"
VERSION = re.search(r'^version = "([^"]+)"$', (REPO / "pyproject.toml").read_text(),
                    re.M).group(1)
NEXT = f"{VERSION}-next"
# What every Debian system already has: an uninstall must leave these (and only these).
SKELETON = ("opt", "etc/systemd/system", "etc/xdg/autostart", "var/lib", "usr/local/bin")
RELEASES = "opt/checkpoint/releases"


def run(root: Path, *options: str, doctor: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key != "CHECKPOINT_INSTALL_DOCTOR"}
    env["PYTHON"] = sys.executable
    if doctor is not None:
        env["CHECKPOINT_INSTALL_DOCTOR"] = doctor
    return subprocess.run(["bash", str(SCRIPT), "--root", str(root), *options], env=env,
                          capture_output=True, text=True, timeout=300)


def listing(root: Path) -> dict[str, tuple]:
    """Every path under root: a folder's mode, a link's target, a file's mode, size, mtime
    and (outside the virtualenvs, where size and mtime show a rewrite) content. A folder's
    mtime is left out: it moves whenever an entry comes and goes."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            relative = str(path.relative_to(root))
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("folder", stat.S_IMODE(info.st_mode))
            else:
                content = "" if relative.startswith(RELEASES) else \
                    hashlib.sha256(path.read_bytes()).hexdigest()
                entries[relative] = ("file", stat.S_IMODE(info.st_mode), info.st_size,
                                     info.st_mtime_ns, content)
    return entries


def steps(done: subprocess.CompletedProcess) -> list[str]:
    """What the script would have run on the system itself."""
    return [line.removeprefix("would run: ") for line in done.stdout.splitlines()
            if line.startswith("would run: ")]


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    root = tmp_path_factory.mktemp("pi-root")
    for folder in SKELETON:
        (root / folder).mkdir(parents=True)
    pristine = listing(root)
    first = run(root)
    assert first.returncode == 0, first.stdout + first.stderr
    return {"root": root, "pristine": pristine, "first": first, "installed": listing(root)}


def release_runs(root: Path) -> subprocess.CompletedProcess:
    binary = root / "opt/checkpoint/current/bin/checkpoint"
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck missing: scripts/install.sh installs it")
def test_install_pi_sh_passes_shellcheck():
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout


def test_install_lays_out_the_gate(gate):
    root = gate["root"]
    assert os.readlink(root / "opt/checkpoint/current") == f"releases/{VERSION}"
    # on the PATH, as the printed provisioning commands expect (a link on the real system)
    assert os.readlink(root / "usr/local/bin/checkpoint") == \
        "/opt/checkpoint/current/bin/checkpoint"
    # The config is provision's to write (it keeps one it finds): only the template here.
    assert not (root / "etc/checkpoint/checkpoint.toml").exists()
    template = root / "etc/checkpoint/checkpoint.toml.example"
    assert template.read_text() == (REPO / "config/pi.toml").read_text()
    assert stat.S_IMODE((root / "etc/checkpoint").stat().st_mode) == 0o770
    assert stat.S_IMODE((root / "var/lib/checkpoint").stat().st_mode) == 0o750
    unit = root / "etc/systemd/system/checkpoint.service"
    assert unit.read_text() == (REPO / "config/systemd/checkpoint.service").read_text()
    kiosk = root / "etc/xdg/autostart/checkpoint-kiosk.desktop"
    assert kiosk.read_text() == (REPO / "config/kiosk/checkpoint-kiosk.desktop").read_text()


def test_install_asks_the_system_for_a_gate_and_nothing_else(gate):
    recorded = steps(gate["first"])
    (apt,) = [step for step in recorded if step.startswith("apt-get install")]
    assert {"python3-venv", "libzbar0", "chromium", "fonts-wqy-microhei"} <= set(apt.split())
    assert not {"mosquitto", "postgresql"} & set(apt.split())
    (useradd,) = [step for step in recorded if step.startswith("useradd")]
    assert "--groups dialout,video,gpio checkpoint" in useradd and "--system" in useradd
    assert "chown root:checkpoint /etc/checkpoint" in recorded
    assert "chown checkpoint:checkpoint /var/lib/checkpoint" in recorded
    # No config yet: enabled, not started, and told what comes next.
    assert recorded[-2:] == ["systemctl daemon-reload", "systemctl enable checkpoint.service"]
    assert "docs/provisioning.md" in gate["first"].stdout


def test_the_release_runs_exactly_the_locked_packages(gate):
    root = gate["root"]
    done = release_runs(root)
    assert (done.returncode, done.stdout) == (0, f"checkpoint {VERSION}\n")
    pip = root / "opt/checkpoint/current/bin/pip"
    listed = subprocess.run([str(pip), "list", "--local", "--format=json",
                             "--disable-pip-version-check"],
                            capture_output=True, text=True, timeout=60, check=True)
    installed = {p["name"].lower().replace("_", "-"): p["version"]
                 for p in json.loads(listed.stdout)}
    lock = (REPO / "requirements.lock").read_text()
    for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M):
        assert installed.get(name.lower().replace("_", "-")) == version, name


def test_a_second_install_changes_nothing(gate):
    again = run(gate["root"])
    assert again.returncode == 0, again.stderr
    assert listing(gate["root"]) == gate["installed"]
    assert "already built" in again.stdout
    assert steps(again) == steps(gate["first"])


def test_an_upgrade_that_fails_doctor_puts_the_old_release_back(gate, tmp_path):
    root, before = gate["root"], listing(gate["root"])
    seen = tmp_path / "doctor-saw"
    done = run(root, "--upgrade", "--release", NEXT,
               doctor=f"readlink {root}/opt/checkpoint/current > {seen}; exit 1")
    assert done.returncode == 1
    assert seen.read_text() == f"releases/{NEXT}\n"     # doctor judged the new release
    assert f"upgrade to {NEXT} failed (checkpoint doctor); release {VERSION} runs again" \
        in done.stderr
    assert listing(root) == before
    recorded = steps(done)
    assert recorded.count("systemctl stop checkpoint.service") == 2
    assert recorded[-1] == "systemctl start checkpoint.service"


def test_an_upgrade_that_fails_the_real_doctor_puts_the_old_release_back(gate):
    root = gate["root"]
    binary = root / "opt/checkpoint/current/bin/checkpoint"
    has_doctor = subprocess.run([str(binary), "doctor", "--help"], capture_output=True,
                                timeout=60).returncode == 0
    if not has_doctor:
        pytest.skip("this tree's checkpoint has no doctor command yet")
    config = root / "etc/checkpoint/checkpoint.toml"
    template = (REPO / "config/pi.toml").read_text()
    config.write_text(template + "\n[nonsense]\nkey = 1\n")   # an unknown table: refused
    try:
        before = listing(root)
        done = run(root, "--upgrade", "--release", NEXT)
        assert done.returncode == 1, done.stdout
        assert "failed (checkpoint doctor)" in done.stderr
        assert listing(root) == before
    finally:
        config.unlink()


def test_an_upgrade_that_passes_doctor_switches_and_keeps_config_and_data(gate):
    root, before = gate["root"], listing(gate["root"])
    done = run(root, "--upgrade", "--release", NEXT, doctor="true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert os.readlink(root / "opt/checkpoint/current") == f"releases/{NEXT}"
    assert release_runs(root).returncode == 0
    after = listing(root)
    kept = [path for path in before if not path.startswith("opt/")]
    assert {path: after[path] for path in kept} == {path: before[path] for path in kept}
    assert sorted(os.listdir(root / RELEASES)) == sorted([VERSION, NEXT])
    assert steps(done)[-1] == "systemctl start checkpoint.service"
    again = run(root, "--upgrade", "--release", NEXT, doctor="false")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert listing(root) == after


def test_uninstall_keeps_config_and_data_and_purge_leaves_nothing(gate):
    root = gate["root"]
    (root / "etc/checkpoint/checkpoint.toml").write_text("# provisioned\n")
    (root / "var/lib/checkpoint/checkpoint.db").write_bytes(b"records")
    done = run(root, "--uninstall")
    assert done.returncode == 0, done.stderr
    left = set(listing(root)) - set(gate["pristine"])
    assert left == {"etc/checkpoint", "etc/checkpoint/checkpoint.toml", "var/lib/checkpoint",
                    "var/lib/checkpoint/checkpoint.db"}
    assert steps(done)[0] == "systemctl disable --now checkpoint.service"
    purged = run(root, "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert listing(root) == gate["pristine"]
    assert "userdel checkpoint" in steps(purged)
