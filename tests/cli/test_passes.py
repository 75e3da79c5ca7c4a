"""`checkpoint keys/issue/bundle/verify`: the real CLI judging independently made passes."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from cli.main import main
from models.timefmt import rfc3339
from tests.support import independent_cp1 as ind
from tests.support.paths import CHECKPOINT_SCRIPT

NOW = 1_790_000_000
AT = rfc3339(NOW)


@pytest.fixture(scope="module")
def demo(demo_dir):
    return demo_dir / "demo"


@pytest.fixture(scope="module")
def issuer(demo):
    return ind.load_key(demo / "issuer-key.pem")


def trust_args(demo, *extra) -> list[str]:
    return ["--trust", str(demo / "trustlist.json"), "--root", str(demo / "root-pub.pem"),
            "--policy", str(demo / "policy.json"), *extra]


def run_cli(args, capsys) -> tuple[int, list[dict], str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def fresh(**overrides) -> dict:
    return {"iat": NOW - 5, "exp": NOW + 115, **overrides}


CASES = {
    "green": (lambda k: ind.make_pass(k, color="green", **fresh()), "pass", []),
    "yellow": (lambda k: ind.make_pass(k, color="yellow", **fresh()), "deny", ["color_yellow"]),
    "red": (lambda k: ind.make_pass(k, color="red", **fresh()), "deny", ["color_red"]),
    "expired": (lambda k: ind.make_pass(k, iat=NOW - 300, exp=NOW - 180), "deny",
                ["pass_expired"]),
    "not yet valid": (lambda k: ind.make_pass(k, iat=NOW + 60, exp=NOW + 180), "deny",
                      ["not_yet_valid"]),
    "tampered": (lambda k: ind.tampered_pass(k, **fresh()), "deny", ["bad_signature"]),
    "unknown key": (lambda k: ind.make_pass(ind.new_key(), **fresh()), "deny", ["unknown_key"]),
    "lifetime": (lambda k: ind.make_pass(k, iat=NOW - 10, exp=NOW + 3600), "deny",
                 ["lifetime_too_long"]),
    "garbage": (lambda k: "WIFI:S:home;T:WPA;P:secret;;", "deny", ["unknown_format"]),
    "zlib bomb": (lambda k: ind.zlib_bomb(), "deny", ["malformed"]),
    "huge": (lambda k: "CP1:" + "0" * 100_000, "deny", ["malformed"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verify_judges_each_kind_of_pass(case, demo, issuer, capsys):
    make, decision, reasons = CASES[case]
    code, [line], _ = run_cli(["verify", *trust_args(demo, "--at", AT), make(issuer)], capsys)
    assert (line["decision"], line["reasons"]) == (decision, reasons)
    assert code == (0 if decision == "pass" else 1)


def test_verify_output_carries_the_pass_fields(demo, issuer, capsys):
    sub = os.urandom(16)
    text = ind.make_pass(issuer, sub=sub, nat=NOW - 3600, **fresh())
    code, [line], _ = run_cli(["verify", *trust_args(demo, "--at", AT), text], capsys)
    assert code == 0
    assert line == {"decision": "pass", "reasons": [], "format": "CP1",
                    "issuer": "CN-BJ-110105", "kid": line["kid"], "subject": sub.hex(),
                    "color": "green", "exp": rfc3339(NOW + 115), "tested_at": rfc3339(NOW - 3600)}


@pytest.mark.parametrize("by", ["cti", "sub"])
def test_verify_with_revocations(by, demo, issuer, tmp_path, capsys):
    ids = {"cti": os.urandom(16), "sub": os.urandom(16)}
    root = ind.load_key(demo / "root-key.pem")
    revocations = tmp_path / "revocations.json"
    revocations.write_text(json.dumps(ind.envelope(
        "revocations", ind.revocations_payload(**{by: [ids[by]]}, version=2), root)))
    args = ["verify", *trust_args(demo, "--at", AT, "--revocations", str(revocations))]
    code, [line], _ = run_cli([*args, ind.make_pass(issuer, **ids, **fresh())], capsys)
    assert (code, line["reasons"]) == (1, ["revoked"])


def test_verify_with_the_device_config(demo_dir, issuer, capsys):
    config = str(demo_dir / "checkpoint.toml")
    text = ind.make_pass(issuer, **fresh())
    code, [line], _ = run_cli(["verify", "--config", config, "--at", AT, text], capsys)
    assert (code, line["decision"]) == (0, "pass")


@pytest.mark.parametrize(("args", "message"), [
    (["--trust", "t.json", "X"], "needs --root"),
    (["--at", "yesterday", "--trust", "t.json", "--root", "r.pem", "X"], "--at"),
    (["--trust", "absent.json", "--root", "absent.pem", "X"], "absent.pem: cannot read"),
])
def test_verify_usage_errors_exit_2_with_one_line(args, message, tmp_path, capsys):
    code, lines, err = run_cli(["verify", *args], capsys)
    assert (code, lines) == (2, [])
    assert message in err and len(err.strip().splitlines()) == 1


def test_real_cli_passes_a_valid_pass_and_denies_a_tampered_one(demo, issuer):
    for text, code, decision in ((ind.make_pass(issuer, **fresh()), 0, "pass"),
                                 (ind.tampered_pass(issuer, **fresh()), 1, "deny")):
        done = subprocess.run([CHECKPOINT_SCRIPT, "verify", *trust_args(demo, "--at", AT), text],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == code, done.stderr
        assert json.loads(done.stdout)["decision"] == decision


def test_stdin_lines_with_their_own_times(demo, issuer):
    text = ind.make_pass(issuer, **fresh())
    lines = [text,                                              # judged at --at: pass
             json.dumps({"text": text, "at": rfc3339(NOW + 600)}),  # later: expired
             json.dumps({"text": text, "at": NOW - 120}),       # before iat: not yet valid
             ind.make_pass(issuer, color="red", **fresh())]
    done = subprocess.run([CHECKPOINT_SCRIPT, "verify", *trust_args(demo, "--at", AT), "-"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=60)
    judged = [json.loads(line) for line in done.stdout.splitlines()]
    assert [j["reasons"] for j in judged] == [[], ["pass_expired"], ["not_yet_valid"],
                                              ["color_red"]]
    assert done.returncode == 1


def test_stdin_bad_line_is_an_input_error_but_the_rest_are_judged(demo, issuer,
                                                                  monkeypatch, capsys):
    import io

    text = ind.make_pass(issuer, **fresh())
    monkeypatch.setattr("sys.stdin", io.StringIO(f'{{"at": 5}}\n{text}\n'))
    code, judged, err = run_cli(["verify", *trust_args(demo, "--at", AT), "-"], capsys)
    assert code == 2 and "line 1" in err
    assert [j["decision"] for j in judged] == ["pass"]


def test_keys_issue_and_bundle_sign_make_a_working_district(tmp_path):
    def cli(*args, **kwargs):
        done = subprocess.run([CHECKPOINT_SCRIPT, *map(str, args)], capture_output=True, text=True,
                              timeout=60, **kwargs)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    cli("keys", "new", "--out", tmp_path / "root")
    cli("keys", "new", "--out", tmp_path / "issuer")
    issuer = ind.load_key(tmp_path / "issuer" / "key.pem")
    payload = tmp_path / "trustlist-payload.json"
    payload.write_text(json.dumps(ind.trustlist_payload(issuer.public_key())))
    cli("bundle", "sign", "--kind", "trustlist", "--key", tmp_path / "root" / "key.pem",
        "--in", payload, "--out", tmp_path / "trustlist.json")
    text = cli("issue", "--key", tmp_path / "issuer" / "key.pem", "--color", "green",
               "--subject", "00" * 16, "--tested", "2026-11-28T08:00:00Z",
               "--png", tmp_path / "pass.png")
    line = json.loads(cli("verify", "--trust", tmp_path / "trustlist.json",
                          "--root", tmp_path / "root" / "pub.pem", text))
    assert (line["decision"], line["subject"]) == ("pass", "00" * 16)
    assert line["tested_at"] == "2026-11-28T08:00:00.000Z"
    assert _decode_png(tmp_path / "pass.png") == text


def _decode_png(path) -> str:
    import cv2
    import zxingcpp

    # QR only: zxing-cpp 3 also reads a stray ITF code out of the finder patterns
    [code] = zxingcpp.read_barcodes(cv2.imread(str(path)),
                                    formats=zxingcpp.BarcodeFormat.QRCode)
    return code.text
