"""`checkpoint district trace TOKEN`: a card token is traced as a subject is (PROTOCOL.md
section 9), on both stores, including one made before records had a card."""

from __future__ import annotations

import json
import uuid

import pytest

from cli.main import main
from district.stores import open_store, postgres, sqlite
from district.stores.sql import FIELDS
from models.records import OPTIONAL_FIELDS
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures

VISITOR_CARD, NEIGHBOUR_CARD, RESIDENT_CARD = "1a" * 16, "2b" * 16, "3c" * 16
VISITOR, B, C = "aa" * 16, "bb" * 16, "cc" * 16
PURPOSE = "outbreak 2026-11: contacts of a visitor"     # every trace states why


def record(seq: int, at: str, *, subject: str | None = None, card: str | None = None,
           kind: str | None = None, gate: str = "east-1", decision: str = "pass",
           note: str | None = None) -> dict:
    return {"id": str(uuid.uuid4()), "seq": seq, "ts": f"2026-11-29T{at}:00.000Z",
            "clock_synced": True, "gate": gate, "decision": decision, "reasons": [],
            "pass_format": "CP1" if subject else None, "issuer": None, "kid": None,
            "subject": subject, "color": "green" if subject else None, "pass_exp": None,
            "tested_at": None, "temperature_c": 36.5, "operator": None, "note": note,
            "card": card, "card_kind": kind if card else None}


def deliver(store, device: str, *records) -> None:
    batch = {"schema": "checkpoint.batch/1", "device": device, "store": str(uuid.uuid4()),
             "batch": str(uuid.uuid4()), "sent": "2026-11-29T13:00:00.000Z",
             "records": list(records)}
    assert store.commit_batch(device, batch)[1] == []


def gate_day(store) -> None:
    deliver(store, "dev-1",
            # the guard registers a visitor by tapping the ID card: token and note, no pass
            record(1, "08:00", card=VISITOR_CARD, kind="cnid", decision="check",
                   note="visitor registered"),
            record(2, "08:03", subject=B, card=RESIDENT_CARD, kind="mifare"),
            record(3, "08:05", card=NEIGHBOUR_CARD, kind="mifare"),    # a card alone
            record(4, "08:06", subject=VISITOR, card=VISITOR_CARD, kind="cnid"),
            record(5, "08:30", subject=C),
            record(6, "12:00", subject=VISITOR, card=VISITOR_CARD, kind="cnid",
                   gate="west-2", decision="deny"))
    deliver(store, "dev-2", record(1, "09:00", card=VISITOR_CARD, kind="cnid"))


@pytest.fixture
def config(tmp_path, district_store_url):  # noqa: F811 - the imported fixture
    with open_store(district_store_url) as store:
        gate_day(store)
    path = tmp_path / "district.toml"
    path.write_text(f'[store]\nurl = "{district_store_url}"\n')
    return path


def trace(capsys, config, *args) -> tuple[int, list[dict]]:
    code = main(["district", "trace", *args, "--purpose", PURPOSE, "--config", str(config)])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_card_token_is_traced_through_every_record_that_holds_it(config, capsys):
    code, lines = trace(capsys, config, VISITOR_CARD.upper())
    assert code == 0
    assert [(line["device"], line["gate"], line["ts"][11:16], line["contact"])
            for line in lines] == [
        ("dev-1", "east-1", "08:00", B), ("dev-1", "east-1", "08:00", NEIGHBOUR_CARD),
        ("dev-1", "east-1", "08:06", B), ("dev-1", "east-1", "08:06", NEIGHBOUR_CARD),
        ("dev-2", "east-1", "09:00", None),
        ("dev-1", "west-2", "12:00", None)]
    assert lines[0] == {"subject": VISITOR_CARD, "device": "dev-1", "gate": "east-1",
                        "ts": "2026-11-29T08:00:00.000Z", "decision": "check", "contact": B,
                        "contact_ts": "2026-11-29T08:03:00.000Z", "contact_decision": "pass",
                        "gap_s": 180.0}


def test_a_record_holding_the_id_is_a_visit_never_a_contact(config, capsys):
    # by card: the record with the visitor's pass and card is a visit, not a contact
    _, lines = trace(capsys, config, VISITOR_CARD)
    assert VISITOR not in {line["contact"] for line in lines}
    # by subject: a visit's record holds her card too, so the registration tapped with
    # that card at 08:00 is hers, not a contact; the district ties a token to a subject
    # only where one record holds both
    _, lines = trace(capsys, config, VISITOR, "--window", "10")
    assert [(line["ts"][11:16], line["contact"]) for line in lines] == [
        ("08:06", B), ("08:06", NEIGHBOUR_CARD), ("12:00", None)]


def test_a_contact_without_a_subject_is_named_by_its_token(config, capsys):
    _, lines = trace(capsys, config, B, "--window", "3")
    assert [(line["contact"], line["contact_ts"][11:16]) for line in lines] == [
        (VISITOR_CARD, "08:00"), (NEIGHBOUR_CARD, "08:05"), (VISITOR, "08:06")]


def test_an_unknown_token_and_a_bad_one(config, capsys):
    assert trace(capsys, config, "4d" * 16) == (1, [])
    assert main(["district", "trace", "4d" * 15 + "zz", "--purpose", PURPOSE, "--config",
                 str(config)]) == 2
    assert "is not hex" in capsys.readouterr().err


def _old_records_table(url: str) -> None:
    """The records table as district stores made it before `card` and `card_kind`."""
    old = [name for name in FIELDS if name not in OPTIONAL_FIELDS]
    on_file = url.startswith("sqlite:///")
    types = sqlite._TYPES if on_file else postgres._TYPES
    key = "row INTEGER PRIMARY KEY" if on_file else "row BIGSERIAL PRIMARY KEY"
    columns = ", ".join(f"{name} {types.get(name, 'TEXT')}" for name in old)
    ddl = (f"CREATE TABLE records ({key}, device TEXT NOT NULL, store TEXT NOT NULL, "
           f"{columns}, "
           f"ts_s {types['temperature_c']} NOT NULL, batch TEXT NOT NULL, "
           "received TEXT NOT NULL, UNIQUE (id), UNIQUE (device, store, seq))")
    if on_file:
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        with db:
            db.execute(ddl)
        db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(ddl)


def test_a_store_from_before_cards_is_upgraded_and_traced_by_card(
        district_store_url, tmp_path, capsys):  # noqa: F811 - the imported fixture
    _old_records_table(district_store_url)
    with open_store(district_store_url) as store:
        gate_day(store)
    config = tmp_path / "district.toml"
    config.write_text(f'[store]\nurl = "{district_store_url}"\n')
    code, lines = trace(capsys, config, NEIGHBOUR_CARD, "--window", "0.5")
    assert code == 0
    assert [(line["ts"][11:16], line["contact"]) for line in lines] == [("08:05", None)]
