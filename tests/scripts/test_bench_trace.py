"""The trace benchmark runs end to end on a small partitioned store and reports what it
claims: the fill, p50/p99 of the traces and of the per-visit baseline, and plans that
name one month's partitions."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support.paths import REPO
from tests.support.postgres import pg_bin

SCRIPT = REPO / "scripts" / "bench_trace.py"


@pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed")
def test_bench_trace_small_run():
    command = [sys.executable, str(SCRIPT), "--records", "24000", "--subjects", "300",
               "--queries", "10"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    filled, traced, baseline, visited = (json.loads(line) for line in lines[:4])
    assert filled["fill"] == 24000 and filled["months"] == 12 and filled["records_per_s"] > 0
    assert traced["query"] == "trace" and traced["queries"] == 10 and traced["rows"] > 0
    # the baseline reads each visit's window itself: it sees every visit and contact row
    assert baseline["query"] == "trace_per_visit_baseline" and baseline["queries"] == 10
    assert baseline["window_rows"] >= traced["rows"]
    assert visited["query"] == "visits" and visited["queries"] == 10
    assert 0 < traced["p50_ms"] <= traced["p99_ms"] <= traced["max_ms"]
    plans = "\n".join(lines[4:])
    assert plans.startswith("EXPLAIN of visits(")
    visits_plan, trace_plan = plans.split("EXPLAIN of the trace's one query")
    assert len(set(re.findall(r"records_2025_\d\d\b", visits_plan))) == 1
    assert "records_default" not in visits_plan
    # the visits from one month, their gate windows from it and the months either side
    months = sorted(set(re.findall(r"records_2025_(\d\d)\b", trace_plan)))
    assert 1 <= len(months) <= 3 and int(months[-1]) - int(months[0]) == len(months) - 1

def test_bench_trace_refuses_bad_options():
    done = subprocess.run([sys.executable, str(SCRIPT), "--months", "13"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--months 1 to 12" in done.stderr
