"""Config validation: every error names the key, the bad value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from edge.config import load_config, parse_config
from runtime.configfile import ConfigError
from tests.support.paths import REPO

MINIMAL = """
[device]
id = "bj-cy-0001"
gate = "east-1"
[store]
path = "data/cp.db"
[trust]
roots = ["root.pem"]
trustlist = "trustlist.json"
"""


def test_minimal_config_gets_defaults_and_resolved_paths(tmp_path):
    config = parse_config(MINIMAL, tmp_path / "cp.toml")
    assert config.store.path == tmp_path / "data" / "cp.db"
    assert config.trust.roots == [tmp_path / "root.pem"]
    assert config.trust.policy is None
    assert config.camera.url == "sim://"
    assert config.store.retention_days == 30
    assert config.mqtt.url == "mqtt://127.0.0.1:1883"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/etc/cp.toml"))
    return caught.value.errors


def test_every_error_is_named_at_once():
    text = MINIMAL.replace('gate = "east-1"', 'gate = "east-1"\ngaet = 1') + """
[camera]
url = "http://cam"
[thermal]
url = "serial:///dev/ttyUSB0"
offset_c = "warm"
[mqtt]
url = "amqp://x"
[console]
listen = "8080"
[extra]
x = 1
"""
    errors = errors_of(text)
    joined = "\n".join(errors)
    assert "[device] gaet: unknown key; allowed: id, gate" in joined
    assert ("[camera] url = 'http://cam': allowed: v4l2://..., picamera2://..., file://..., "
            "sim://...") in joined
    assert "[thermal] offset_c = 'warm': expected a number" in joined
    assert "[mqtt] url = 'amqp://x'" in joined
    assert "[console] listen = '8080': allowed: HOST:PORT" in joined
    assert "[extra]: unknown table" in joined
    assert len(errors) == 6


def test_missing_required_keys_and_wrong_types():
    errors = errors_of('[device]\nid = 7\n[store]\nretention_days = 0\n')
    assert "[device] id = 7: expected a string" in errors
    assert "[device] gate: missing; expected a string" in errors
    assert "[store] path: missing; expected a file path (string)" in errors
    assert "[store] retention_days = 0: allowed: 1 to 3650" in errors
    assert "[trust] roots: missing; expected a list of file paths" in errors


def test_device_id_must_be_a_topic_level():
    errors = errors_of(MINIMAL.replace("bj-cy-0001", "bj/#"))
    assert errors == ["[device] id = 'bj/#': allowed: letters, digits, '-', '_', '.', "
                      "at most 64 characters"]


@pytest.mark.parametrize("name", ["district", "district-2"])
def test_device_id_may_not_be_the_districts(name):
    # `district` is the bundles' topic level (no receiver reads records there) and the
    # receivers' certificate names; a device so named would deliver into the void.
    errors = errors_of(MINIMAL.replace("bj-cy-0001", name))
    assert errors == [f"[device] id = {name!r}: 'district' and 'district-...' are the "
                      "district's own names"]


def test_broken_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in errors_of("[device\n")[0]
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_simulate_replaces_only_hardware_drivers(tmp_path):
    text = MINIMAL + '[camera]\nurl = "v4l2:///dev/video0"\n[gate]\nurl = "gpio://17"\n'
    config = parse_config(text, tmp_path / "cp.toml").simulated()
    assert (config.camera.url, config.thermal.url, config.gate.url) == ("sim://",) * 3
    assert config.store.path == tmp_path / "data" / "cp.db"
    assert config.device.id == "bj-cy-0001"


def test_shipped_configs_are_valid():
    for name in ("checkpoint.toml", "pi.toml"):
        load_config(REPO / "config" / name)


def test_config_check_cli_names_errors_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "[camera]\nurl = 'ftp://x'\n")
    assert main(["config", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "[camera] url = 'ftp://x'" in err
    assert "Traceback" not in err
