"""The delivery benchmark runs end to end on a small backlog and reports what it claims."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.paths import REPO
from tests.support.postgres import pg_bin

SCRIPT = REPO / "scripts" / "bench_delivery.py"


def test_bench_delivery_small_run():
    command = [sys.executable, str(SCRIPT), "--records", "2000", "--workers", "1,2",
               "--devices", "4", "--stores", "sqlite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    raw, drain, *ingest, summary = (json.loads(line) for line in done.stdout.splitlines())
    assert raw["bench"] == "raw" and raw["district_rows"] == raw["records"] == 2000
    assert drain["bench"] == "drain" and drain["records"] == 2000
    assert drain["district_rows"] == 2000 and drain["lost"] == 0
    assert drain["records_per_s"] > 0 and drain["peak_rss_mb"] >= drain["rss_before_mb"] > 0
    assert drain["cpu_s"]["device"] > 0 and drain["cpu_s"]["receivers"] > 0
    assert [r["workers"] for r in ingest] == [1, 2]
    assert all(r["district_rows"] == r["acked"] == 2000 and r["lost"] == 0
               and r["records_per_s"] > 0 for r in ingest)
    assert summary["bench"] == "summary" and summary["receiver_1_vs_raw"] == round(
        ingest[0]["records_per_s"] / raw["records_per_s"], 2)
    assert summary["receiver_2_vs_1"] == round(
        ingest[1]["records_per_s"] / ingest[0]["records_per_s"], 2)


def test_bench_delivery_measures_a_nagle_baseline_in_the_same_run():
    command = [sys.executable, str(SCRIPT), "--records", "1000", "--workers", "1",
               "--devices", "2", "--stores", "sqlite", "--nagle-baseline"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _, baseline, drain, _, _ = (json.loads(line) for line in done.stdout.splitlines())
    assert (baseline["bench"], drain["bench"]) == ("drain_nagle", "drain")
    assert baseline["lost"] == drain["lost"] == 0 and baseline["district_rows"] == 1000
    assert drain["vs_nagle"] == round(drain["records_per_s"] / baseline["records_per_s"], 2)


def test_bench_delivery_commits_to_a_synchronous_standby_on_postgresql():
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/install.sh installs it)")
    command = [sys.executable, str(SCRIPT), "--records", "1000", "--workers", "1",
               "--devices", "2", "--stores", "postgresql", "--sync-replica"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    raw, commit, drain, ingest, summary = (json.loads(line) for line in
                                           done.stdout.splitlines())
    assert commit["bench"] == "commit" and 0 < commit["p50_ms"] <= commit["p99_ms"]
    assert raw["district_rows"] == 1000
    assert drain["lost"] == ingest["lost"] == 0 and ingest["district_rows"] == 1000
    assert ingest["replica_rows"] == 1000      # every acked record is on the standby too
    assert "replica" in ingest["cpu_s"]        # its CPU counted with the rest
    assert summary["sync_replica"] == "sync"   # the primary still waited for it at the end
