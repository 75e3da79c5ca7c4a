"""Trace benchmark: a partitioned PostgreSQL district store of years of records.

    python scripts/bench_trace.py [--records 10000000] [--subjects 5000] [--months 12]
                                  [--queries 100] [--url postgresql://...]

Fills a new district store (district/stores/postgres.py, partitioned by month) with N
records over 12 months of 2025, 200 devices of 4 gates, some thousands of subjects, made
by the server itself (generate_series, one INSERT per month: no Python per row), then
ANALYZE. Then runs --queries traces, each of one subject over one calendar month, with the
real query functions: district/trace.py's `trace` (one query: the subject's visits joined
to each visit's gate window); the baseline, a query for the visits and then one for each
visit's gate window (as a trace ran before); and, alone, the store's `visits` query.
Prints one JSON line per measurement (fill rate; p50/p99 ms of each query kind) and the
EXPLAIN of one visits query and of one trace query, which name only that month's
partitions (the trace's gate windows may reach into the months either side).

Without --url, a PostgreSQL server is started here (tests/support/postgres.py, fsync off:
this measures reads) in a temp folder and removed after.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from district.stores.partitions import month_start  # noqa: E402
from district.trace import trace  # noqa: E402

YEAR = 2025
DEVICES = 200
GATES = 4


def subject_of(n: int) -> str:
    """The hex subject id the fill gives subject number n (as the SQL below does)."""
    import hashlib

    return hashlib.md5(f"s{n}".encode()).hexdigest()


# Record i of month m: device i % 200, at the month's start plus i's share of the month;
# every column a trace reads is filled, the optional ones stay NULL. Seqs are i, unique.
FILL = """
INSERT INTO records (device, store, id, seq, ts, clock_synced, gate, decision, reasons,
                     pass_format, issuer, kid, subject, color, temperature_c, ts_s, batch,
                     received)
SELECT 'dev-' || (i %% {devices}), '00000000-0000-4000-8000-' || lpad((i %% {devices})::text,
       12, '0'), md5(i::text)::uuid::text, i,
       to_char(to_timestamp(t) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       true, 'gate-' || (i %% {gates}), CASE WHEN i %% 20 = 0 THEN 'deny' ELSE 'pass' END, '[]',
       'CP1', 'CN-BJ-110105', 'abcd', md5('s' || ((i * 7919) %% {subjects})), 'green', 36.5,
       t, 'bench', '2026-01-01T00:00:00.000Z'
FROM (SELECT i, %s + (i - %s) * %s AS t FROM generate_series(%s::bigint, %s::bigint) AS i)
     AS made
"""


def fill(store, records: int, subjects: int, months: int) -> dict:
    started = time.perf_counter()
    store.partitions(ahead=months - 1, now_s=month_start(YEAR, 1))
    db = store._db
    per_month = records // months
    sql = FILL.format(devices=DEVICES, gates=GATES, subjects=subjects)
    first = 1
    for month in range(months):
        count = per_month if month < months - 1 else records - per_month * (months - 1)
        low, high = month_start(YEAR, month + 1), month_start(YEAR, month + 2)
        step = (high - low) / max(count, 1)
        db.execute(sql, (low, first, step, first, first + count - 1))
        first += count
    db.execute("ANALYZE records")
    seconds = time.perf_counter() - started
    return {"fill": records, "months": months, "subjects": subjects,
            "seconds": round(seconds, 1), "records_per_s": round(records / seconds)}


def measure(name: str, runs: list[float]) -> dict:
    runs = sorted(runs)
    return {"query": name, "queries": len(runs),
            "p50_ms": round(statistics.median(runs) * 1000, 2),
            "p99_ms": round(runs[min(len(runs) - 1, int(len(runs) * 0.99))] * 1000, 2),
            "max_ms": round(runs[-1] * 1000, 2)}


def per_visit(store, subject: str, since: float, until: float) -> int:
    """The baseline, how a trace read before it was one query: the visits, then one query
    for each visit's gate window (15 min). The rows read."""
    return sum(len(store.at_gate(visit["device"], visit["gate"], visit["ts_s"] - 900,
                                 visit["ts_s"] + 900))
               for visit in store.visits(subject, since, until))


def bench(url: str, args) -> None:
    from district.stores.postgres import PgDistrictStore

    with PgDistrictStore(url) as store:
        print(json.dumps(fill(store, args.records, args.subjects, args.months)), flush=True)
        rng = random.Random(14)
        asks = []
        for _ in range(args.queries):
            month = rng.randrange(args.months)
            asks.append((subject_of(rng.randrange(args.subjects)),
                         month_start(YEAR, month + 1), month_start(YEAR, month + 2) - 0.001))
        traced, visited, stepped, rows, baseline_rows = [], [], [], 0, 0
        for subject, since, until in asks:
            started = time.perf_counter()
            rows += sum(1 for _ in trace(store, subject, since_s=since, until_s=until))
            traced.append(time.perf_counter() - started)
            started = time.perf_counter()
            baseline_rows += per_visit(store, subject, since, until)
            stepped.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.visits(subject, since, until)
            visited.append(time.perf_counter() - started)
        print(json.dumps({**measure("trace", traced), "rows": rows}), flush=True)
        print(json.dumps({**measure("trace_per_visit_baseline", stepped),
                          "window_rows": baseline_rows}), flush=True)
        print(json.dumps(measure("visits", visited)), flush=True)
        subject, since, until = asks[0]
        print(f"EXPLAIN of visits({subject}, one month):", flush=True)
        print(store.explain(lambda: store.visits(subject, since, until)), flush=True)
        print(f"EXPLAIN of the trace's one query ({subject}, one month, 15 min window):",
              flush=True)
        print(store.explain(lambda: store.visits_around(subject, since, until, 900)),
              flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000, help="records to fill")
    parser.add_argument("--subjects", type=int, default=5000, help="distinct subjects")
    parser.add_argument("--months", type=int, default=12, help="months of 2025 filled (1-12)")
    parser.add_argument("--queries", type=int, default=100, help="trace queries timed")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a server "
                                      "started here)")
    args = parser.parse_args()
    if not 1 <= args.months <= 12 or args.records < args.months or args.queries < 1 \
            or args.subjects < 1:
        parser.error("--months 1 to 12, --records at least --months, --queries and "
                     "--subjects at least 1")
    if args.url:
        bench(args.url, args)
        return 0
    from tests.support.postgres import PgServer, pg_bin

    if pg_bin() is None:
        print("bench_trace: PostgreSQL is not installed", file=sys.stderr)
        return 2
    server = PgServer()
    server.start()
    try:
        bench(server.new_database(), args)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
