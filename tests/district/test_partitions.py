"""A PostgreSQL store's records by calendar month: partitions, pruning, retention, the
`district partitions` command, and a resend at another ts (docs/district.md section 9)."""

from __future__ import annotations

import json
import threading
import uuid

import psycopg
import pytest

from cli.main import main
from district.stores import open_store
from district.stores.partitions import month_start
from district.stores.postgres import PARTITIONED_INSERT, PLAIN_RECORDS
from tests.support.postgres import pg_server  # noqa: F401 - fixture

SUBJECT, OTHER = "aa" * 16, "bb" * 16
OCT, NOV, DEC = month_start(2025, 10), month_start(2025, 11), month_start(2025, 12)


def record(seq: int, ts: str, subject: str = SUBJECT, id_: str | None = None) -> dict:
    return {"id": id_ or str(uuid.uuid4()), "seq": seq, "ts": ts, "clock_synced": True,
            "gate": "east-1", "decision": "pass", "reasons": [], "pass_format": "CP1",
            "issuer": "CN-BJ-110105", "kid": "abcd", "subject": subject, "color": "green",
            "pass_exp": None, "tested_at": None, "temperature_c": 36.5, "operator": None,
            "note": None}


def batch(store_id: str, *records) -> dict:
    return {"schema": "checkpoint.batch/1", "device": "dev-1", "store": store_id,
            "batch": str(uuid.uuid4()), "sent": "2026-01-01T00:00:00.000Z",
            "records": list(records)}


def where(url: str) -> dict[int, str]:
    """seq -> the partition holding it."""
    with psycopg.connect(url) as db:
        return dict(db.execute("SELECT seq, tableoid::regclass::text FROM records"))


@pytest.fixture
def url(pg_server):  # noqa: F811 - the imported fixture
    return pg_server.new_database()


def test_records_land_in_their_months_partition(url):
    with open_store(url) as store:
        assert store.partitioned
        store.partitions(ahead=2, now_s=OCT)        # October to December 2025
        store.commit_batch("dev-1", batch(str(uuid.uuid4()),
                                          record(1, "2025-10-31T23:59:59.999Z"),
                                          record(2, "2025-11-01T00:00:00.000Z"),
                                          record(3, "2025-12-15T12:00:00.000Z"),
                                          record(4, "2024-02-01T00:00:00.000Z")))
    assert where(url) == {1: "records_2025_10", 2: "records_2025_11", 3: "records_2025_12",
                          4: "records_default"}


def test_a_month_made_late_takes_its_records_from_default(url):
    with open_store(url) as store:
        store.commit_batch("dev-1", batch(str(uuid.uuid4()), record(1, "2024-02-10T08:00:00Z"),
                                          record(2, "2024-03-10T08:00:00Z")))
        done = store.partitions(ahead=0, now_s=month_start(2024, 2))
        assert [(e["partition"], e["action"], e.get("moved")) for e in done
                if e["partition"] == "records_2024_02"] == [("records_2024_02", "created", 1)]
        assert [row["seq"] for row in store.visits(SUBJECT)] == [1, 2]
    assert where(url) == {1: "records_2024_02", 2: "records_default"}


def test_a_trace_reads_only_the_months_in_its_range(url):
    with open_store(url) as store:
        store.partitions(ahead=5, now_s=OCT)
        plan = store.explain(lambda: store.visits(SUBJECT, NOV + 3600, NOV + 20 * 86400))
    assert "records_2025_11" in plan
    for other in ("records_2025_10", "records_2025_12", "records_2026_01", "records_default"):
        assert other not in plan


def test_retention_drops_whole_old_months_and_keeps_the_rest(url):
    with open_store(url) as store:
        store.partitions(ahead=2, now_s=OCT)
        store.commit_batch("dev-1", batch(str(uuid.uuid4()), record(1, "2025-10-05T08:00:00Z"),
                                          record(2, "2025-11-05T08:00:00Z"),
                                          record(3, "2025-12-05T08:00:00Z"),
                                          # in DEFAULT: months with no partition
                                          record(4, "2025-09-30T23:59:59Z"),
                                          record(5, "2027-06-01T00:00:00Z")))
        # 10 days into January 2026, keeping 50 days (from 21 November): October ended 71
        # days ago, November 40 days ago
        done = store.partitions(ahead=0, retention_days=50,
                                now_s=month_start(2026, 1) + 10 * 86400)
        actions = {e["partition"]: e["action"] for e in done}
        assert actions["records_2025_10"] == "dropped"
        assert actions["records_2025_11"] == actions["records_2025_12"] == "kept"
        assert actions["records_2026_01"] == "created"
        assert actions["records_default"] == "kept"
        # DEFAULT loses September's record, as October's partition went; not later ones
        assert [e.get("pruned") for e in done if e["partition"] == "records_default"] == [1]
        assert [row["seq"] for row in store.visits(SUBJECT)] == [2, 3, 5]


def test_without_a_retention_default_keeps_every_record(url):
    with open_store(url) as store:
        store.commit_batch("dev-1", batch(str(uuid.uuid4()), record(1, "2001-01-01T00:00:00Z")))
        done = store.partitions(ahead=0, now_s=OCT)
        assert [e.get("pruned") for e in done if e["partition"] == "records_default"] == [None]
        assert [row["seq"] for row in store.visits(SUBJECT)] == [1]


def test_a_resend_at_another_ts_is_still_a_conflict_across_months(url):
    store_id = str(uuid.uuid4())
    first = record(1, "2025-10-31T23:00:00Z")
    with open_store(url) as store:
        store.partitions(ahead=2, now_s=OCT)
        assert store.commit_batch("dev-1", batch(store_id, first)) == ([[1, 1]], [])
        # the same id and seq, a month later: no unique key with ts_s meets it
        moved = {**first, "ts": "2025-11-30T23:00:00Z"}
        assert store.commit_batch("dev-1", batch(store_id, moved)) == (
            [], [{"seq": 1, "reason": "conflict"}])
        third = record(3, "2025-11-01T00:00:00Z")
        assert store.commit_batch("dev-1", batch(store_id, third)) == ([[3, 3]], [])
        # a seq below the store's highest claiming the held id, in another month
        taken = {**first, "seq": 2, "ts": "2025-12-01T00:00:00Z"}
        assert store.commit_batch("dev-1", batch(store_id, taken)) == (
            [], [{"seq": 2, "reason": "conflict"}])
        # the resend as it was is a duplicate, accepted again
        assert store.commit_batch("dev-1", batch(store_id, first)) == ([[1, 1]], [])
        assert store.duplicates == 1
        assert store.count() == 2
        # a seq above the store's highest claiming the held id: its id is looked up too
        fresh = {**first, "seq": 4, "ts": "2025-12-02T00:00:00Z"}
        assert store.commit_batch("dev-1", batch(store_id, fresh)) == (
            [], [{"seq": 4, "reason": "conflict"}])
        assert store.count() == 2


def test_one_by_one_path_also_finds_the_held_seq(url):
    """A batch the store refuses as a whole is done record by record: that path too must
    not let the seq in again at another ts."""
    store_id = str(uuid.uuid4())
    first = record(1, "2025-10-31T23:00:00Z")
    with open_store(url) as store:
        store.partitions(ahead=2, now_s=OCT)
        store.commit_batch("dev-1", batch(store_id, first))
        prepared = store.prepare("dev-1", batch(store_id, {**first, "ts": "2025-11-30T23:00:00Z"},
                                                record(2, "2025-11-30T23:00:00Z")))
        with store._transaction():
            store._commit_prepared([prepared], one_by_one=True)
        outcome = store._judge(prepared)
        assert outcome.accepted == [[2, 2]]
        assert outcome.rejected == [{"seq": 1, "reason": "conflict"}]
        assert store.count() == 2


def test_a_store_made_before_partitioning_is_left_as_it_is(url, tmp_path, capsys):
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(PLAIN_RECORDS)
    with open_store(url) as store:
        assert not store.partitioned
        assert store.commit_batch("dev-1", batch(str(uuid.uuid4()),
                                                 record(1, "2025-10-05T08:00:00Z")))[1] == []
    assert where(url) == {1: "records"}
    config = tmp_path / "district.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    assert main(["district", "partitions", "--config", str(config)]) == 2
    assert "not partitioned" in capsys.readouterr().err


def test_the_command_prints_a_line_per_partition(url, tmp_path, capsys):
    config = tmp_path / "district.toml"
    config.write_text(f'[store]\nurl = "{url}"\nretention_days = 400\n')
    with psycopg.connect(url, autocommit=True) as db:
        open_store(url).close()
        # an old month, long past any retention of 400 days
        db.execute(f"CREATE TABLE records_2020_01 PARTITION OF records FOR VALUES FROM "
                   f"({month_start(2020, 1)}) TO ({month_start(2020, 2)})")
    assert main(["district", "partitions", "--config", str(config), "--ahead", "5"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    actions = {line["partition"]: line["action"] for line in lines}
    assert actions.pop("records_2020_01") == "dropped"
    assert actions.pop("records_default") == "kept"
    assert list(actions.values()).count("kept") == 4    # made when the store was opened
    assert list(actions.values()).count("created") == 2
    first = next(line for line in lines if line["partition"] == "records_2020_01")
    assert first == {"partition": "records_2020_01", "action": "dropped",
                     "from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}
    # run again: all there, nothing to drop
    assert main(["district", "partitions", "--config", str(config), "--ahead", "5"]) == 0
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["action"] for line in again} == {"kept"} and len(again) == 7


def test_the_command_refuses_sqlite_and_bad_options(tmp_path, capsys):
    config = tmp_path / "district.toml"
    config.write_text('[store]\nurl = "sqlite:///district.db"\n')
    assert main(["district", "partitions", "--config", str(config)]) == 2
    assert "PostgreSQL-only" in capsys.readouterr().err
    assert main(["district", "partitions", "--config", str(config), "--ahead", "-1"]) == 2
    assert "--ahead" in capsys.readouterr().err
    assert main(["district", "partitions", "--config", str(config),
                 "--retention-days", "0"]) == 2
    assert "--retention-days" in capsys.readouterr().err
    config.write_text('[store]\nretention_days = 0\n')
    assert main(["district", "partitions", "--config", str(config)]) == 2
    assert "retention_days" in capsys.readouterr().err


def test_two_receivers_with_one_seq_at_two_ts_wait_and_one_wins(url):
    """No unique key refuses the same seq at another ts_s: the per-(device, store) lock
    makes the second receiver wait for the first to commit, then find its row held."""
    store_id = str(uuid.uuid4())
    first = record(1, "2025-10-31T23:00:00Z")
    later = {**first, "ts": "2025-11-30T23:00:00Z"}
    with open_store(url) as one, open_store(url) as two:
        one.partitions(ahead=2, now_s=OCT)
        outcome: list = []
        worker = None
        prepared = one.prepare("dev-1", batch(store_id, first))
        with one._transaction():
            one._commit_prepared([prepared], one_by_one=False)     # holds the lock
            worker = threading.Thread(
                target=lambda: outcome.append(two.commit_batch("dev-1", batch(store_id, later))))
            worker.start()
            worker.join(1.0)
            assert worker.is_alive()        # waiting on the lock, not inserting
        worker.join(10)
        assert one._judge(prepared).accepted == [[1, 1]]
        assert outcome == [([], [{"seq": 1, "reason": "conflict"}])]
        assert one.count() == 1


def test_highest_seqs_are_filled_in_for_records_held_before_them(url):
    """A partitioned store made before store_seqs: opening it fills the table from the
    records, so a resend at another ts is looked up, and still a conflict."""
    store_id = str(uuid.uuid4())
    first = record(1, "2025-10-31T23:00:00Z")
    with open_store(url) as store:
        store.partitions(ahead=2, now_s=OCT)
        store.commit_batch("dev-1", batch(store_id, first))
        store._db.execute("DROP TABLE store_seqs")
    with open_store(url) as again:
        moved = {**first, "ts": "2025-11-30T23:00:00Z"}
        assert again.commit_batch("dev-1", batch(store_id, moved)) == (
            [], [{"seq": 1, "reason": "conflict"}])
        assert again.count() == 1


def test_a_flush_probes_the_keys_and_never_scans_the_records(url):
    """The insert's cross-month lookups stay index probes: a plan that scans `records`
    for each flush costs more with every day held (docs/district.md section 9)."""
    store_id = str(uuid.uuid4())
    with open_store(url) as store:
        store.partitions(ahead=2, now_s=OCT)
        held = [record(seq, f"2025-10-{1 + seq % 28:02d}T08:00:00Z") for seq in range(1, 2001)]
        store.commit_batch("dev-1", batch(store_id, *held))
        store._db.execute("ANALYZE records")
        resend = store.prepare("dev-1", batch(store_id, record(2001, "2025-11-02T08:00:00Z"),
                                              {**held[0], "ts": "2025-11-03T08:00:00Z"}))
        with store._transaction():
            # stages the two rows (and inserts the new one); the plan is read while staged
            assert store._insert_rows(list(resend.rows.values())) == [True, False]
            plan = "\n".join(row[0] for row in store._db.execute(
                "EXPLAIN " + PARTITIONED_INSERT))
    # the month holding 2,000 rows is probed by its keys' indexes, per staged row (a
    # near-empty month may be read whole: that is the planner's cheapest)
    assert "Seq Scan on records_2025_10" not in plan and "Hash Anti Join" not in plan
    assert "records_2025_10_id_ts_s_key" in plan and "SubPlan" in plan
