"""`checkpoint card read`: one JSON line per tap with the token, never the number; through
the command line's own entry point, on the sim reader and on the hid driver reading the
simulated input-event source."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

import pytest

from cli.main import main
from drivers.sim.input_events import InputEventSource

pytest.importorskip("drivers.reader.pn532_url", reason="the registry names the PN532 "
                    "driver's module for reader URLs (engineer F's)")

KEY = os.urandom(32)


def token(kind: str, number: bytes) -> str:
    return hmac.new(KEY, kind.encode() + b":" + number, hashlib.sha256).hexdigest()[:32]


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "card.key"
    path.write_bytes(KEY)
    path.chmod(0o600)
    return path


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_sim_taps_print_tokens_and_never_the_number(key_file, capsys):
    code = main(["card", "read", "sim://?every=0.05&card=cnid:0102030405060708",
                 "--key", str(key_file), "--count", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    taps = lines(out)
    assert [(t["kind"], t["token"]) for t in taps] == [
        ("cnid", token("cnid", bytes.fromhex("0102030405060708")))] * 3
    assert all(set(t) == {"ts", "kind", "token", "ms"} and t["ms"] >= 0 for t in taps)
    assert "0102030405060708" not in out + err


def test_the_hid_driver_on_the_simulated_event_source(key_file, tmp_path, capsys):
    with InputEventSource(tmp_path) as source:
        source.type_number("C3B2A104")             # a reader that types bytes reversed
        source.type_number("C3B2A1", enter=True)   # too short: dropped, no line
        source.type_number("F6E5D4C3B2A104")
        code = main(["card", "read", f"hid://{source.path}?format=hex_reversed",
                     "--key", str(key_file), "--count", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [(t["kind"], t["token"]) for t in lines(out)] == [
        ("hid", token("hid", b"04A1B2C3")), ("hid", token("hid", b"04A1B2C3D4E5F6"))]
    assert "04A1B2C3" not in out + err and "C3B2A104" not in out + err


def test_the_key_comes_from_the_config(key_file, tmp_path, capsys):
    config = tmp_path / "cp.toml"
    config.write_text('[device]\nid = "bj-cy-0001"\ngate = "east-1"\n[store]\npath = "cp.db"\n'
                      '[trust]\nroots = ["root.pem"]\ntrustlist = "t.json"\n'
                      'card_key = "card.key"\n')
    code = main(["card", "read", "sim://?every=0.05", "--config", str(config), "--count", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert lines(out)[0]["token"] == token("mifare", bytes.fromhex("04A1B2C3D4E5F6"))


def test_no_tap_within_the_timeout_exits_1(key_file, tmp_path, capsys):
    with InputEventSource(tmp_path) as source:
        code = main(["card", "read", f"hid://{source.path}", "--key", str(key_file),
                     "--count", "1", "--timeout", "0.2"])
    assert code == 1 and "no tap on hid://" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--key", "short"], "31 bytes; at least 32"),
    (["--key", "absent"], "cannot read"),
    (["--key", "card.key", "--config", "x.toml"], "either --config or --key"),
    (["--key", "card.key", "--count", "0"], "--count must be at least 1"),
])
def test_usage_errors_exit_2_with_one_line(key_file, tmp_path, capsys, args, message):
    (tmp_path / "short").write_bytes(KEY[:31])
    args = [str(tmp_path / a) if a in ("short", "absent", "card.key") else a for a in args]
    assert main(["card", "read", "sim://", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1


def test_a_bad_url_exits_2(key_file, capsys):
    assert main(["card", "read", "hid:///dev/input/x?format=dec9", "--key", str(key_file)]) == 2
    assert "format='dec9': allowed: dec10, hex, hex_reversed" in capsys.readouterr().err
