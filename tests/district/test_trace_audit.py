"""Every `checkpoint district trace` is audited: its row (operator, purpose, subject, time
range, window, then the visits found) is committed to the store before anything is
printed, a trace without a stated purpose or whose row cannot be written prints nothing
and exits 2, and `checkpoint district audit` lists the log. On each store; the store that
cannot be written is a real PostgreSQL role without the right to insert audit rows (a
file mode would not stop root)."""

from __future__ import annotations

import getpass
import json
import subprocess
import uuid

import pytest

from cli.main import main
from district import audit
from district.stores import open_store
from tests.support.loglines import captured_lines
from tests.support.paths import CHECKPOINT, REPO
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures

SUBJECT, OTHER = "aa" * 16, "bb" * 16
PURPOSE = "outbreak 2026-11: contacts of case 17"


def record(seq: int, subject: str, at: str) -> dict:
    return {"id": str(uuid.uuid4()), "seq": seq, "ts": f"2026-11-29T{at}:00.000Z",
            "clock_synced": True, "gate": "east-1", "decision": "pass", "reasons": [],
            "pass_format": "CP1", "issuer": "CN-BJ-110105", "kid": "abcd",
            "subject": subject, "color": "green", "pass_exp": None, "tested_at": None,
            "temperature_c": 36.5, "operator": None, "note": None}


def gate_day(url: str) -> None:
    with open_store(url) as store:
        store.commit_batch("dev-1", {
            "schema": "checkpoint.batch/1", "device": "dev-1", "store": str(uuid.uuid4()),
            "batch": str(uuid.uuid4()), "sent": "2026-11-29T13:00:00.000Z",
            "records": [record(1, SUBJECT, "08:00"), record(2, OTHER, "08:05"),
                        record(3, SUBJECT, "12:00")]})


def config_for(tmp_path, url: str, name: str = "district.toml"):
    path = tmp_path / name
    path.write_text(f'[store]\nurl = "{url}"\n')
    return path


@pytest.fixture
def config(tmp_path, district_store_url):  # noqa: F811 - the imported fixture
    gate_day(district_store_url)
    return config_for(tmp_path, district_store_url)


def run(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["district", *args])
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines()], out.err


def audit_log(capsys, config, *extra: str) -> list[dict]:
    code, rows, _ = run(capsys, "audit", "--config", str(config), *extra)
    assert code == 0
    return rows


def test_a_trace_is_logged_with_operator_purpose_subject_and_count(config, capsys):
    with captured_lines() as logged:
        code, lines, _ = run(capsys, "trace", SUBJECT.upper(), "--purpose", PURPOSE,
                             "--operator", "li.wei", "--since", "2026-11-29",
                             "--until", "2026-11-29T23:00:00+08:00", "--window", "10",
                             "--config", str(config))
    assert code == 0 and [line["contact"] for line in lines] == [OTHER, None]
    [row] = audit_log(capsys, config)
    assert {name: row[name] for name in ("operator", "purpose", "subject", "since", "until",
                                         "window", "visits", "lines", "outcome")} == {
        "operator": "li.wei", "purpose": PURPOSE, "subject": SUBJECT,
        "since": "2026-11-29T00:00:00.000Z", "until": "2026-11-29T15:00:00.000Z",
        "window": 10.0, "visits": 2, "lines": 2, "outcome": "found"}
    assert row["at"] <= row["finished"] and row["at"].endswith("Z")
    assert [line for line in logged if "event=trace_audited" in line] == [
        f"event=trace_audited audit={row['id']} operator=li.wei visits=2 outcome=found"]


def test_the_operator_defaults_to_the_login_name_and_a_miss_is_logged(config, capsys):
    code, lines, _ = run(capsys, "trace", "12" * 16, "--purpose", PURPOSE,
                         "--config", str(config))
    assert (code, lines) == (1, [])
    [row] = audit_log(capsys, config)
    assert (row["operator"], row["subject"], row["visits"], row["outcome"]) == \
        (getpass.getuser(), "12" * 16, 0, "none")
    assert (row["since"], row["until"], row["window"]) == (None, None, 15.0)


@pytest.mark.parametrize(("purpose", "why"), [
    (None, "--purpose TEXT is required: tracing people"),
    ("why", "--purpose must be 5 to 500 characters"),
    ("      ", "--purpose must be 5 to 500 characters"),
    ("x" * 501, "--purpose must be 5 to 500 characters"),
    ("case 17\nand more", "--purpose must be printable text on one line"),
])
def test_no_stated_purpose_no_trace_and_no_row(config, capsys, purpose, why):
    extra = [] if purpose is None else ["--purpose", purpose]
    code, lines, err = run(capsys, "trace", SUBJECT, *extra, "--config", str(config))
    assert (code, lines) == (2, [])
    assert why in err and "\n" not in err.rstrip("\n")
    assert audit_log(capsys, config) == []


def test_the_command_line_refuses_a_trace_without_purpose(tmp_path):
    gate_day(url := f"sqlite:///{tmp_path}/district.db")
    done = subprocess.run([*CHECKPOINT, "district", "trace", SUBJECT, "--config",
                           str(config_for(tmp_path, url))], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("checkpoint: district trace: --purpose TEXT is required")
    assert "Traceback" not in done.stderr


def test_audit_lists_oldest_first_and_from_a_time(config, capsys):
    for subject, operator in ((SUBJECT, "first"), (OTHER, "second")):
        run(capsys, "trace", subject, "--purpose", PURPOSE, "--operator", operator,
            "--config", str(config))
    rows = audit_log(capsys, config)
    assert [(row["operator"], row["subject"]) for row in rows] == \
        [("first", SUBJECT), ("second", OTHER)]
    assert audit_log(capsys, config, "--since", rows[1]["at"]) == rows[1:]
    assert audit_log(capsys, config, "--since", "2999-01-01") == []
    assert run(capsys, "audit", "--since", "soon", "--config", str(config))[0] == 2


def restricted_role(url: str, *, audit_rights: str, records_rights: bool) -> str:
    """A login role that owns the district's tables but holds only `audit_rights` on
    trace_audit (made first, by the superuser), and SELECT on records only if
    `records_rights`; its URL to the same database."""
    import psycopg

    with open_store(url) as store:
        audit.ensure_table(store)
    role = f"r_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"CREATE ROLE {role} LOGIN")
        db.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")
        for table in ("records", "devices", "device_stores"):
            db.execute(f"ALTER TABLE {table} OWNER TO {role}")
        db.execute(f"GRANT {audit_rights} ON trace_audit TO {role}")
        if not records_rights:
            db.execute(f"REVOKE SELECT ON records FROM {role}")
    return url.replace("postgresql://postgres@", f"postgresql://{role}@")


def test_a_store_that_refuses_the_audit_row_refuses_the_trace(pg_server, tmp_path,  # noqa: F811
                                                              capsys):
    url = pg_server.new_database()
    gate_day(url)
    operator_url = restricted_role(url, audit_rights="SELECT",
                                   records_rights=True)
    config = config_for(tmp_path, operator_url)
    code, lines, err = run(capsys, "trace", SUBJECT, "--purpose", PURPOSE,
                           "--config", str(config))
    assert (code, lines) == (2, [])
    assert "refused: the audit log cannot be written (InsufficientPrivilege" in err
    assert audit_log(capsys, config) == []      # the role can read the log: it is empty
    # the same role, given the right to insert, traces (the refusal was the audit's)
    restricted = operator_url.split("@")[0].rsplit("/", 1)[1]
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"GRANT INSERT, UPDATE ON trace_audit TO {restricted}")
    assert run(capsys, "trace", SUBJECT, "--purpose", PURPOSE, "--config", str(config))[0] == 0


def test_a_query_that_fails_after_its_row_leaves_the_row(pg_server, tmp_path,  # noqa: F811
                                                         capsys):
    url = pg_server.new_database()
    gate_day(url)
    config = config_for(tmp_path, restricted_role(
        url, audit_rights="SELECT, INSERT, UPDATE", records_rights=False))
    code, lines, err = run(capsys, "trace", SUBJECT, "--purpose", PURPOSE,
                           "--config", str(config))
    assert (code, lines) == (2, [])
    assert "the store failed (InsufficientPrivilege" in err
    [row] = audit_log(capsys, config)
    assert (row["subject"], row["visits"], row["outcome"]) == (SUBJECT, None, "failed")
