"""One wire contract: records the agent makes, batched by its outbox, pass the district
receiver's validation field by field. Both sides read models/records.py and
models/wire.py; this is the test that they agree in practice, not only in code."""

from __future__ import annotations

import pytest

from district.validate import check_envelope, decode_payload, field_problem, record_problem
from edge.outbox import Outbox
from edge.scanner import Scan
from models.records import FIELDS
from models.wire import CONTENT_JSON, CONTENT_ZLIB
from tests.support.controller import demo_clock, green_pass, make_controller


def broken_verifier(*args):
    raise RuntimeError("a verifier bug")


@pytest.fixture
def batches(demo_dir, tmp_path):
    """Decisions of every kind from the real controller, as the uplink would send them."""
    clock = demo_clock()
    controller, store, _ = make_controller(demo_dir, tmp_path / "cp.db", clock)
    texts = [green_pass(demo_dir, clock), green_pass(demo_dir, clock, "red"),
             "not a pass", "CP1:" + "%" * 30]
    for text in texts:
        controller.handle_scan(Scan(text, clock.monotonic(), 1.0))
    controller.verify = broken_verifier     # its scan is recorded as check + unreadable
    controller.handle_scan(Scan(green_pass(demo_dir, clock), clock.monotonic(), 1.0))
    outbox = Outbox(store, "demo-0001")
    made = []
    while (batch := outbox.next_batch(sent="2026-12-01T00:00:00.000Z")) is not None:
        made.append(batch)
    store.close()
    return made


def test_every_record_passes_the_receivers_rules_field_by_field(batches):
    records = []
    for batch in batches:
        assert batch.content_type in (CONTENT_JSON, CONTENT_ZLIB)
        decoded = decode_payload(batch.payload, batch.content_type)
        check_envelope(decoded, "demo-0001")
        records += decoded["records"]
    assert [r["decision"] for r in records] == ["pass", "deny", "deny", "deny", "check"]
    for record in records:
        assert tuple(record) == FIELDS      # every field the device sends, in contract order
        for name, value in record.items():
            assert field_problem(name, value) is None, (name, value)
        assert record_problem(record) is None
