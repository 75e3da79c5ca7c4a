"""What `run` will need, checked at once: every named file as what it claims to be, TLS
files as the MQTT client loads them, the device nodes the drivers will open."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from edge.config import Section, load_config
from edge.configcheck import check
from models.keys import new_private_key, public_pem
from tests.support.paths import REPO
from tests.support.tls import make_ca


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    return make_ca(tmp_path_factory.mktemp("ca"), "bj-cy-0001", "other")


def pi_config(folder: Path):
    """config/pi.toml in a folder holding none of the files it names."""
    shutil.copy(REPO / "config" / "pi.toml", folder / "pi.toml")
    return load_config(folder / "pi.toml")


def errors(findings) -> list[str]:
    return [f.text for f in findings if f.level == "error"]


def with_tls(config, **files):
    return replace(config, mqtt=Section({**config.mqtt.values, **files}))


def test_every_missing_file_is_named_in_one_run(tmp_path):
    found = errors(check(pi_config(tmp_path)))
    for name in ("root.pem", "trustlist.json", "revocations.json", "policy.json",
                 "subject.key", "tls/ca.pem", "tls/device.pem", "tls/device.key"):
        assert any(str(tmp_path / name) in line for line in found), (name, found)
    assert len(found) == 8, found


def test_absent_device_nodes_are_warnings_not_errors(tmp_path):
    findings = check(pi_config(tmp_path))
    warnings = [f.text for f in findings if f.level == "warning"]
    for node in ("/dev/video0", "/dev/ttyUSB0"):
        assert any(node in w for w in warnings) != Path(node).exists(), warnings
    assert not any("/dev/" in e for e in errors(findings))


def test_empty_or_wrong_tls_files_are_errors(tmp_path, certs):
    config = pi_config(tmp_path)
    (tmp_path / "empty.pem").write_text("")
    empty = errors(check(with_tls(config, ca=tmp_path / "empty.pem",
                                  cert=tmp_path / "empty.pem", key=tmp_path / "empty.pem")))
    tls = [e for e in empty if e.startswith("[mqtt]")]
    assert any("not a PEM CA certificate" in e for e in tls), tls
    assert any("not a PEM certificate and its private key" in e for e in tls), tls
    swapped = errors(check(with_tls(config, ca=certs / "ca.pem", cert=certs / "bj-cy-0001.pem",
                                    key=certs / "other-key.pem")))
    assert [e for e in swapped if e.startswith("[mqtt]")] == [
        f"[mqtt] cert = {certs / 'bj-cy-0001.pem'}, key = {certs / 'other-key.pem'}: not a "
        "PEM certificate and its private key (KEY_VALUES_MISMATCH)"]


def test_matching_tls_files_pass(tmp_path, certs):
    config = with_tls(pi_config(tmp_path), ca=certs / "ca.pem", cert=certs / "bj-cy-0001.pem",
                      key=certs / "bj-cy-0001-key.pem")
    assert not [e for e in errors(check(config)) if e.startswith("[mqtt]")]


def test_a_bundle_signed_by_another_root_is_named(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml")
    assert check(config) == []
    stranger = new_private_key().public_key()     # pinned instead of the district's root
    (own / "demo" / "root-pub.pem").write_bytes(public_pem(stranger))
    found = errors(check(config))
    assert len(found) == 3 and all("signed by unknown root kid" in e for e in found), found


def test_a_broken_scenario_is_an_error(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    (own / "demo-scenario.toml").write_text('present_s = "long"\n[[person]]\npass = "blue"\n')
    found = errors(check(load_config(own / "checkpoint.toml")))
    assert found == [f"[camera] url: scenario {own / 'demo-scenario.toml'}: person pass = "
                     "'blue'; allowed: green, yellow, red, expired, forged, none"]


def test_a_roster_not_pushed_yet_is_fine_and_a_broken_one_is_named(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml")
    assert not (own / "demo" / "roster.json").exists() and check(config) == []
    (own / "demo" / "roster.json").write_text('{"schema": "checkpoint.bundle/1"}')
    found = errors(check(config))
    assert len(found) == 1 and found[0].startswith(f"[trust] roster {own / 'demo'}"), found
