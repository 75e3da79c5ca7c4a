"""Soak: many simulated gates against the whole district, with a broker and a receiver
killed mid-run; every record must be at the district exactly once.

    python scripts/soak_district.py [--devices 2000] [--rate 500] [--seconds 300]
                                    [--workers 2] [--store postgresql|sqlite]
                                    [--kill-broker-at 0.5] [--kill-receiver-at 0.7]

What runs, all real and on loopback: two Mosquittos bridged (tests/support/broker.py
BridgedPair, as the failover tests run them), PostgreSQL with fsync on (or one SQLite
file), and `checkpoint district serve --workers N` with `[mqtt] failover`, as a district
runs it. The load generator (district/loadgen.py) runs here: `--devices` gates, each with
its own connection, store id and seqs, half on each broker, `--rate` records/s in all,
each batch resent until the district's ack names it.

At `--kill-broker-at` of the load time broker A is killed (SIGKILL): its devices and the
receivers move to B. At `--kill-receiver-at` one worker process of the pool is killed
(SIGKILL): the pool starts it again and the devices resend what it held. After the load,
the run waits for every ack, then reads the district: per device, the rows held, the
distinct seqs and the highest seq, against what the generator made. Prints one JSON line:
the generator's summary (records, acks, resends, p50/p99 publish-to-ack ms, and the p99
of the batches acked before the first kill), the kills, and `exactly_once` (no record
missing, none doubled). Exit 1 when it is not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from district.loadgen import LoadGen, Plan, ms, percentile  # noqa: E402
from district.stores import open_store  # noqa: E402
from tests.support.broker import BridgedPair  # noqa: E402
from tests.support.serve_pool import ServePool  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402


def held_by_device(store_url: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(device, store) -> (rows, distinct seqs, highest seq) at the district."""
    with open_store(store_url) as storage:
        rows = storage._run("SELECT device, store, COUNT(*), COUNT(DISTINCT seq), MAX(seq) "
                            "FROM records GROUP BY device, store").fetchall()
    return {(device, store): (count, distinct, top)
            for device, store, count, distinct, top in rows}


def exactly_once(generator: LoadGen, held: dict) -> dict:
    """What the district holds against what the generator made: a device's records are
    seqs 1..N, so N rows, N distinct seqs and a highest seq of N mean each once."""
    made = {(d.device, d.store): d.seq for d in generator.devices if d.seq}
    missing = doubled = 0
    for key, top in made.items():
        count, distinct, highest = held.get(key, (0, 0, 0))
        missing += top - distinct
        doubled += count - distinct + max(0, highest - top)
    strangers = sum(held[key][0] for key in held.keys() - made.keys())
    return {"district_rows": sum(v[0] for v in held.values()), "missing": missing,
            "doubled": doubled, "unknown_rows": strangers,
            "exactly_once": missing == doubled == strangers == 0}


def start_store(kind: str, folder: Path):
    """(store URL, server or None): PostgreSQL with fsync on, or a SQLite file."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'district.db'}"
        open_store(url).close()
        return url, None
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_delivery import durable_pg

    server = durable_pg()
    server.start()
    url = server.new_database()
    open_store(url).close()
    return url, server


def kills(pair: BridgedPair, pool: ServePool, generator: LoadGen, args, done: threading.Event,
          log: list) -> None:
    """Broker A, then one worker, at their fractions of the load time."""
    while generator.phase != "load" and not done.is_set():
        time.sleep(0.05)
    start = time.monotonic()
    for at, what in sorted([(args.kill_broker_at, "broker"),
                            (args.kill_receiver_at, "receiver")]):
        if at < 0 or done.wait(max(0.0, start + at * args.seconds - time.monotonic())):
            continue
        if what == "broker":
            generator.acks_before_kill = len(generator.latencies)
            pair.a.kill()
            log.append({"killed": "broker_a", "at_s": round(time.monotonic() - start, 1)})
        else:
            pids = pool.pids()
            victim = pids.get(len(pids) - 1)
            if victim:
                os.kill(victim, signal.SIGKILL)
            log.append({"killed": f"worker_{len(pids) - 1}", "pid": victim,
                        "at_s": round(time.monotonic() - start, 1)})


def run(args, folder: Path) -> dict:
    store_url, server = start_store(args.store, folder)
    pair = BridgedPair(folder / "brokers")
    pair.start()
    config = folder / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{pair.a.url}"\nfailover = ["{pair.b.url}"]\n'
                      f'[store]\nurl = "{store_url}"\n')
    pool = ServePool(config, args.workers)
    done, log = threading.Event(), []
    try:
        if not wait_until(lambda: pool.count("event=receiver_ready") >= args.workers, 60):
            raise RuntimeError("the receivers did not subscribe:\n" + "".join(pool.lines))
        plan = Plan(devices=args.devices, rate=args.rate, seconds=args.seconds,
                    window=args.window, ack_timeout_s=args.ack_timeout,
                    drain_s=args.drain)
        generator = LoadGen(pair.urls, plan, report=_progress, report_every_s=10.0)
        killer = threading.Thread(target=kills, daemon=True,
                                  args=(pair, pool, generator, args, done, log))
        killer.start()
        summary = generator.run()
        done.set()
        killer.join()
        check = exactly_once(generator, held_by_device(store_url))
        calm = sorted(generator.latencies[:getattr(generator, "acks_before_kill", None)])
        restarted = pool.count("event=worker_started") - args.workers
        return {"soak": args.store, "workers": args.workers, "seconds": args.seconds,
                **summary, "p99_ms_before_kills": ms(percentile(calm, 0.99)), "kills": log,
                "workers_restarted": restarted, **check}
    finally:
        done.set()
        pool.stop()
        pair.stop()
        if server is not None:
            server.stop()


def _progress(counters: dict) -> None:
    print(json.dumps({"progress": counters}), file=sys.stderr, flush=True)


def raise_open_files() -> None:
    """One socket per simulated gate: up to the hard limit of open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=500.0,
                        help="records/s from all devices together (default: 0.25 a gate, "
                             "above a city's rush of 8,000/s over 50,000 gates)")
    parser.add_argument("--seconds", type=float, default=300.0, help="time under load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--window", type=int, default=16, help="batches in flight a device")
    parser.add_argument("--ack-timeout", type=float, default=10.0)
    parser.add_argument("--drain", type=float, default=180.0,
                        help="seconds after the load to wait for the last acks")
    parser.add_argument("--kill-broker-at", type=float, default=0.5,
                        help="fraction of the load time (negative: never)")
    parser.add_argument("--kill-receiver-at", type=float, default=0.7,
                        help="fraction of the load time (negative: never)")
    args = parser.parse_args()
    raise_open_files()
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        result = run(args, Path(folder))
    print(json.dumps(result), flush=True)
    return 0 if result["exactly_once"] and result["unacked"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
