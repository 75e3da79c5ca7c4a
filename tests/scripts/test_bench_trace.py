"""The trace benchmark runs end to end on a small partitioned store and reports what it
claims: the fill, p50/p99 of the traces, and a plan naming one month's partition."""

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
    filled, traced, visited = (json.loads(line) for line in lines[:3])
    assert filled["fill"] == 24000 and filled["months"] == 12 and filled["records_per_s"] > 0
    assert traced["query"] == "trace" and traced["queries"] == 10 and traced["rows"] > 0
    assert visited["query"] == "visits" and visited["queries"] == 10
    assert 0 < traced["p50_ms"] <= traced["p99_ms"] <= traced["max_ms"]
    plan = "\n".join(lines[3:])
    assert plan.startswith("EXPLAIN of visits(")
    assert len(set(re.findall(r"records_2025_\d\d\b", plan))) == 1
    assert "records_default" not in plan


def test_bench_trace_refuses_bad_options():
    done = subprocess.run([sys.executable, str(SCRIPT), "--months", "13"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--months 1 to 12" in done.stderr
