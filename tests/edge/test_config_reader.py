"""`[reader] url` and `[trust] card_key`: optional, checked like every driver URL, and a
reader needs a card key that is there, long enough and private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.configcheck import check
from runtime.configfile import ConfigError

pytest.importorskip("drivers.reader.pn532_url", reason="the registry names the PN532 "
                    "driver's module for reader URLs (engineer F's)")

MINIMAL = """
[device]
id = "bj-cy-0001"
gate = "east-1"
[store]
path = "cp.db"
[trust]
roots = ["root.pem"]
trustlist = "trustlist.json"
"""


def config_with(folder: Path, reader: str | None = None, key: str | None = None):
    text = MINIMAL + (f'card_key = "{key}"\n' if key else "")
    text += f'[reader]\nurl = "{reader}"\n' if reader else ""
    return parse_config(text, folder / "cp.toml")


def card_findings(config) -> list[tuple[str, str]]:
    return [(f.level, f.text) for f in check(config)
            if f.text.startswith(("[reader]", "[trust] card"))]


def test_without_a_reader_there_is_nothing_to_check(tmp_path):
    config = config_with(tmp_path)
    assert config.reader.url is None and config.trust.card_key is None
    assert card_findings(config) == []
    assert config.simulated().reader.url is None


def test_a_bad_reader_url_is_named_with_what_is_allowed(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config_with(tmp_path, "hid:///dev/input/event3?format=dec11")
    assert caught.value.errors == ["[reader] url = 'hid:///dev/input/event3?format=dec11': "
                                   "format='dec11': allowed: dec10, hex, hex_reversed"]
    with pytest.raises(ConfigError, match=r"\[reader\] url = 'usb://x': allowed: serial://"):
        config_with(tmp_path, "usb://x")


def test_a_reader_without_a_card_key_is_an_error(tmp_path):
    assert card_findings(config_with(tmp_path, "sim://")) == [
        ("error", "[trust] card_key: missing; a card reader is configured and its taps "
                  "need the card key")]


def test_a_short_key_is_an_error_and_a_readable_one_a_warning(tmp_path):
    key = tmp_path / "card.key"
    key.write_bytes(os.urandom(31))
    key.chmod(0o600)
    assert card_findings(config_with(tmp_path, "sim://", "card.key")) == [
        ("error", f"[trust] card key {key}: 31 bytes; at least 32 needed "
                  f"(head -c 32 /dev/urandom > {key})")]
    key.write_bytes(os.urandom(32))
    assert card_findings(config_with(tmp_path, "sim://", "card.key")) == []
    key.chmod(0o644)
    assert card_findings(config_with(tmp_path, "sim://", "card.key")) == [
        ("warning", f"[trust] card key {key}: readable by group or others (mode 0644); "
                    f"chmod 600 {key}")]


def test_an_absent_hid_node_is_a_warning_and_simulate_replaces_the_reader(tmp_path):
    key = tmp_path / "card.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    url = "hid:///dev/input/by-id/usb-absent-reader-event-kbd?format=hex"
    config = config_with(tmp_path, url, "card.key")
    assert card_findings(config) == [
        ("warning", f"[reader] url = {url!r}: /dev/input/by-id/usb-absent-reader-event-kbd "
                    "is not present on this machine")]
    assert config.simulated().reader.url == "sim://"
