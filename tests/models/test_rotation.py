"""`checkpoint keys rotate` + `bundle sign`: two issuer keys live during the overlap, only
the new one afterwards."""

from __future__ import annotations

import json
import os
import time

import pytest

from cli.main import main
from edge.trust import load_trust
from models.cp1 import issue_cp1
from models.timefmt import parse_rfc3339
from models.verify import verify_pass
from tests.support import independent_cp1 as ind

ISS = "CN-BJ-110105"


def cli(args, capsys) -> dict | None:
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out.strip()
    return json.loads(out) if out else None


def signed_pass(key, at: float) -> str:
    return issue_cp1(key, iss=ISS, color="green", iat=int(at), exp=int(at) + 60,
                     sub=os.urandom(16), cti=os.urandom(16))


@pytest.fixture
def district(tmp_path, capsys):
    cli(["keys", "new", "--out", tmp_path / "root"], capsys)
    cli(["keys", "new", "--out", tmp_path / "old"], capsys)
    old = ind.load_key(tmp_path / "old" / "key.pem")
    payload = {**ind.trustlist_payload(old.public_key(), iss=ISS),
               "issued": "2026-01-01T00:00:00Z", "next_update": "2036-01-01T00:00:00Z"}
    (tmp_path / "payload.json").write_text(json.dumps(payload))
    return tmp_path, old


def test_either_key_verifies_during_the_overlap_then_only_the_new_one(district, capsys):
    folder, old = district
    before = time.time()
    rotated = cli(["keys", "rotate", "--trustlist", folder / "payload.json",
                   "--out", folder / "new", "--overlap", "2"], capsys)
    cli(["bundle", "sign", "--kind", "trustlist", "--key", folder / "root" / "key.pem",
         "--in", folder / "payload.json", "--out", folder / "trustlist.json"], capsys)
    new = ind.load_key(folder / "new" / "key.pem")
    assert rotated["version"] == 2 and rotated["retiring"] == [
        ind.trustlist_payload(old.public_key())["keys"][0]["kid"]]
    state = load_trust([folder / "root" / "pub.pem"], folder / "trustlist.json")
    retire_at = parse_rfc3339(rotated["retire_at"])
    assert before + 2 * 3600 - 1 <= retire_at <= time.time() + 2 * 3600 + 1

    overlap = retire_at - 600
    for key in (old, new):
        assert verify_pass(signed_pass(key, overlap), state.store, overlap).valid
    after = retire_at + 600
    assert verify_pass(signed_pass(old, after), state.store, after).reasons == ("key_expired",)
    assert verify_pass(signed_pass(new, after), state.store, after).valid


def test_rotate_refuses_a_bad_payload_and_writes_no_key(district, capsys):
    folder, _ = district
    (folder / "bad.json").write_text(json.dumps({"version": 1}))
    assert main(["keys", "rotate", "--trustlist", str(folder / "bad.json"),
                 "--out", str(folder / "new")]) == 2
    assert "no `keys` list" in capsys.readouterr().err
    assert not (folder / "new").exists()


@pytest.mark.parametrize("keys", [[1], ["kid"], [{"iss": "CN-BJ-110105", "not_after": 5}]])
def test_a_badly_shaped_trust_list_is_refused_by_name(keys):
    from models.keys import new_private_key
    from models.rotation import RotationError, rotate_trustlist

    payload = {"version": 3, "keys": keys}
    with pytest.raises(RotationError, match="trust list"):
        rotate_trustlist(payload, new_private_key().public_key(), iss="CN-BJ-110105",
                         now=1_790_000_000, overlap_s=3600)
