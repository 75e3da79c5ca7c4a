"""config/district.toml: the shipped file loads, mistakes are named, the CLI exits 2."""

from __future__ import annotations

import pytest

from cli.main import main
from district.config import load_district_config, parse_district_config
from runtime.configfile import ConfigError
from tests.support.paths import REPO


def test_shipped_config_loads_with_the_store_beside_it():
    config = load_district_config(REPO / "config" / "district.toml")
    assert config.mqtt_url == "mqtt://127.0.0.1:1883" and config.root == "cp/v1"
    assert config.db_path == REPO / "config" / "district.db"
    assert config.tls is None


def test_every_mistake_is_named(tmp_path):
    text = ('[mqtt]\nurl = "http://x"\nport = 1\n[store]\nurl = "mysql://db"\n'
            '[extra]\n')
    with pytest.raises(ConfigError) as caught:
        parse_district_config(text, tmp_path / "district.toml")
    errors = "\n".join(caught.value.errors)
    assert "[mqtt] url = 'http://x'" in errors
    assert "[mqtt] port: unknown key" in errors
    assert "[store] url = 'mysql://db'" in errors and "postgresql://" in errors
    assert "[extra]: unknown table" in errors


def test_absolute_sqlite_path(tmp_path):
    config = parse_district_config(f'[store]\nurl = "sqlite:///{tmp_path}/d.db"\n',
                                   tmp_path / "conf" / "district.toml")
    assert config.db_path == tmp_path / "d.db"
    assert config.store_url == f"sqlite:///{tmp_path}/d.db"


def test_postgresql_store_url_is_kept_as_given(tmp_path):
    url = "postgresql://district@db.example:5432/checkpoint"
    config = parse_district_config(f'[store]\nurl = "{url}"\n', tmp_path / "district.toml")
    assert config.store_url == url and config.db_path is None


def test_cli_refuses_a_bad_config_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "district.toml"
    bad.write_text("[mqtt]\nurll = 'mqtt://h'\n")
    assert main(["district", "records", "--config", str(bad)]) == 2
    assert "[mqtt] urll: unknown key" in capsys.readouterr().err
