"""`checkpoint district trace SUBJECT`: where and when, and who else was at that gate then."""

from __future__ import annotations

import json
import uuid

import pytest

from cli.main import main
from district.stores import open_store
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures

SUBJECT, B, C, D, E, F = ("aa" * 16, "bb" * 16, "cc" * 16, "dd" * 16, "ee" * 16, "ff" * 16)
PURPOSE = "outbreak 2026-11: contacts of a confirmed case"   # every trace states why


def record(seq: int, subject: str | None, at: str, gate: str = "east-1",
           decision: str = "pass") -> dict:
    return {"id": str(uuid.uuid4()), "seq": seq, "ts": f"2026-11-29T{at}:00.000Z",
            "clock_synced": True, "gate": gate, "decision": decision, "reasons": [],
            "pass_format": "CP1", "issuer": "CN-BJ-110105", "kid": "abcd", "subject": subject,
            "color": "green", "pass_exp": None, "tested_at": None, "temperature_c": 36.5,
            "operator": None, "note": None}


def deliver(store, device: str, *records) -> None:
    batch = {"schema": "checkpoint.batch/1", "device": device, "store": str(uuid.uuid4()),
             "batch": str(uuid.uuid4()), "sent": "2026-11-29T13:00:00.000Z",
             "records": list(records)}
    assert store.commit_batch(device, batch)[1] == []


@pytest.fixture
def config(tmp_path, district_store_url):  # noqa: F811 - the imported fixture
    with open_store(district_store_url) as store:
        deliver(store, "dev-1",
                record(1, F, "07:50"), record(2, SUBJECT, "08:00"),
                record(3, None, "08:02", decision="check"),
                record(4, B, "08:05", decision="deny"), record(5, B, "08:10"),
                record(6, C, "08:20"), record(7, E, "08:00", gate="west-2"),
                record(8, SUBJECT, "12:00", gate="west-2", decision="deny"))
        deliver(store, "dev-2", record(1, D, "08:01"))     # same gate name, other place
    path = tmp_path / "district.toml"
    path.write_text(f'[store]\nurl = "{district_store_url}"\n')
    return path


def trace(capsys, config, *args) -> tuple[int, list[dict]]:
    code = main(["district", "trace", *args, "--purpose", PURPOSE, "--config", str(config)])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_contacts_at_the_same_gate_within_the_window(config, capsys):
    code, lines = trace(capsys, config, SUBJECT.upper())
    assert code == 0
    assert [(line["gate"], line["contact"], line["gap_s"]) for line in lines] == [
        ("east-1", F, -600.0), ("east-1", B, 300.0), ("west-2", None, None)]
    first = lines[1]
    assert first == {"subject": SUBJECT, "device": "dev-1", "gate": "east-1",
                     "ts": "2026-11-29T08:00:00.000Z", "decision": "pass", "contact": B,
                     "contact_ts": "2026-11-29T08:05:00.000Z", "contact_decision": "deny",
                     "gap_s": 300.0}
    assert lines[2]["decision"] == "deny"


def test_window_and_time_range(config, capsys):
    _, wider = trace(capsys, config, SUBJECT, "--window", "25")
    assert [line["contact"] for line in wider] == [F, B, C, None]
    _, later = trace(capsys, config, SUBJECT, "--since", "2026-11-29T09:00:00Z")
    assert [line["ts"] for line in later] == ["2026-11-29T12:00:00.000Z"]
    _, earlier = trace(capsys, config, SUBJECT, "--until", "2026-11-29T09:00:00+08:00")
    assert earlier == []      # 09:00 in Beijing is 01:00Z, before any visit


def test_answers_and_mistakes(config, capsys):
    assert trace(capsys, config, "12" * 16) == (1, [])
    assert main(["district", "trace", "not-hex", "--purpose", PURPOSE, "--config",
                 str(config)]) == 2
    assert "is not hex" in capsys.readouterr().err
    assert main(["district", "trace", SUBJECT, "--since", "noon", "--purpose", PURPOSE,
                 "--config", str(config)]) == 2
    assert "--since" in capsys.readouterr().err
