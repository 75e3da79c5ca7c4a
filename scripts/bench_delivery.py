"""Delivery benchmark: a device's backlog drained through a real Mosquitto, and ingest.

    python scripts/bench_delivery.py [--records 100000] [--workers 1,2,4] [--devices 20]
                                     [--stores sqlite,postgresql] [--batch-size 150]
                                     [--sync-replica] [--nagle-baseline]

drain:  a device store holding N records (made through edge.store.Store) is delivered by
        the real sync worker, in its own process, to one real receiver; records/s from
        connect to the last ack, and that process's peak RSS (VmHWM).
ingest: N records in full batches (or --batch-size 1: one decision a message, a gate in
        steady state) of 20 devices, published as fast as the broker takes them,
        committed by 1, 2, 4 receiver processes sharing the `$share` subscription and one
        district store; records/s from the first publish to the ack of the last record,
        the acks read by the publishing client as devices read them (not by counting the
        district's rows, which would load the database it measures), and the flushes (one
        transaction each) the receivers committed.

commit: PostgreSQL only: p50 and p99 of a commit of one small row, 300 in a row (the WAL
        flush, and with --sync-replica the standby's too).

raw:    the database's own limit, the baseline for ingest: the same records as rows, made
        beforehand, written by plain COPY into a staging table plus INSERT ... ON
        CONFLICT DO NOTHING into the district's schema (SQLite: executemany of the
        INSERT), in transactions of the receiver's largest flush; no broker, no receiver.

Each measurement says where the CPU went (`cpu_s`: seconds of CPU of the device, the
receivers, the broker and PostgreSQL over the measured time), and a last line per store
gives the ratios: receiver with 1 worker to raw, 2 workers to 1, and the drain.

With `--sync-replica`, PostgreSQL has a synchronous streaming standby (a second server
started here from pg_basebackup): every commit waits for the standby's disk too, as in
the high-availability deployment of docs/district.md; its CPU is counted as `replica`.

With `--nagle-baseline`, the drain is measured first with Nagle's algorithm left on (a
second broker without `set_tcp_nodelay`, clients without TCP_NODELAY), then as shipped,
and the ratio is printed: the baseline in the same run.

Each runs once per district store: SQLite (one file, WAL, busy_timeout, shared by the
workers) and PostgreSQL (a server started here, fsync on, as in production). Prints one
JSON line per measurement. Needs mosquitto; PostgreSQL only for `postgresql`. Roles
`device` and `receiver` are this script run as a child.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from drivers.clock import SystemClock  # noqa: E402
from edge.outbox import encode_batch  # noqa: E402
from edge.store import Store  # noqa: E402
from edge.sync import Sync, Timing  # noqa: E402
from models.ids import uuid7  # noqa: E402
from models.records import Record  # noqa: E402
from models.timefmt import rfc3339  # noqa: E402

# The district side, broker and PostgreSQL helpers are imported where used, so that the
# device process (whose peak RSS is the figure) loads what an agent loads, nothing more.

DEVICE = "bench-0001"
TIMING = Timing(poll_s=0.5, ack_timeout_s=10.0)


def make_record(n: int, now: float) -> Record:
    """A realistic pass decision: every field a CP1 scan fills."""
    return Record(id=uuid7(int(now * 1000) + n), ts=rfc3339(now + n / 1000), clock_synced=True,
                  gate="east-1", decision="pass", pass_format="CP1", issuer="CN-BJ-110105",
                  kid="a1b2c3d4e5f6a7b8", subject=f"{n:032x}", color="green",
                  pass_exp=rfc3339(now + 86400), tested_at=rfc3339(now - 3600),
                  temperature_c=36.5 + (n % 7) / 10)


def fill_device_store(path: Path, count: int) -> None:
    with Store(path) as store:
        # Setup only: the backlog is the benchmark's input, not what it measures.
        store._db.execute("PRAGMA synchronous=OFF")
        now = time.time()
        for n in range(count):
            store.commit(make_record(n, now))


def peak_rss_mb() -> float:
    """This process's peak RSS. Not getrusage's ru_maxrss: Linux carries that across exec,
    so a child would report the parent's size at fork (here, all the encoded batches)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmHWM:"))) / 1024


def cpu_of(pid: int, children: bool = False) -> float:
    """CPU seconds of a live process (with `children`: also those it has reaped, and
    those it still has: PostgreSQL's backends under its postmaster); 0 if it is gone."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    used = int(fields[11]) + int(fields[12])             # utime, stime
    if children:
        used += int(fields[13]) + int(fields[14])        # cutime, cstime
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                other = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(other[1]) == pid:                     # ppid
                used += int(other[11]) + int(other[12])
    return used / ticks


class CpuMeter:
    """CPU seconds of named processes between start() and read()."""

    def __init__(self, pids: dict[str, tuple[int, bool]]) -> None:
        self.pids = pids        # name -> (pid, with children)
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_of(*spec) for name, spec in self.pids.items()}

    def read(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for name, spec in self.pids.items():
            key = name.rstrip("0123456789")     # receiver1, receiver2 -> receivers
            used[key] = round(used.get(key, 0.0) + cpu_of(*spec) - self.before[name], 2)
        return used


def meter(broker, pg, workers: list[subprocess.Popen]) -> CpuMeter:
    pids = {"broker": (broker.process.pid, False)} if broker else {}
    pids.update({f"receivers{n}": (w.pid, False) for n, w in enumerate(workers)})
    if pg is not None:
        pids["postgresql"] = (postmaster(pg), True)
        if pg.replica is not None:
            pids["replica"] = (postmaster(pg.replica.server), True)
    return CpuMeter(pids)


def postmaster(server) -> int:
    """The pid of a running PgServer's postmaster (PostgreSQL's backends are its children)."""
    return int((server.data / "postmaster.pid").read_text().split()[0])


# -- child roles --------------------------------------------------------------------

def run_device(url: str, db: Path) -> None:
    """Drain the store through the real sync worker; print seconds and peak RSS."""
    rss_before = peak_rss_mb()
    with Store(db) as store:
        total = store.backlog()[0]
        sync = Sync(url, device=DEVICE, store_path=db, clock=SystemClock(), timing=TIMING)
        sync.start()
        while not sync.connected:
            time.sleep(0.01)
        started, cpu = time.perf_counter(), os.times()
        sync.notify()
        # Not store.backlog(): counting a long backlog ten times a second would cost the
        # device's core more than the drain it measures; this is one index probe.
        while store._db.execute("SELECT EXISTS (SELECT 1 FROM records "
                                "WHERE synced = 0)").fetchone()[0]:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        used = os.times()
        sync.stop()
    print(json.dumps({"records": total, "seconds": round(seconds, 2),
                      "cpu_s": round(used.user + used.system - cpu.user - cpu.system, 2),
                      "rss_before_mb": round(rss_before, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)


def durable_pg():
    """The tests' PostgreSQL server, but with fsync on: an ack means the row is on disk.
    `replica` is its synchronous standby, once run_all has started one."""
    from tests.support.postgres import PgServer

    server = PgServer(durable=True)
    server.replica = None
    return server


class SyncReplica:
    """A streaming standby of `primary` on this machine, made synchronous: from `start()`
    on, every commit on the primary (the raw baseline's and the receivers') returns only
    once the standby has the WAL on its disk (`synchronous_commit = on`, the default), as
    with a Patroni or pg_auto_failover pair in synchronous mode (docs/district.md). Both
    servers share this machine's cores and disk, which a real pair does not."""

    def __init__(self, primary) -> None:
        from tests.support.postgres import PgServer

        self.primary = primary
        self.server = PgServer(durable=True)    # its data made by pg_basebackup, not initdb

    def start(self) -> None:
        primary = self.primary
        primary._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                     "-U", "postgres", "-D", str(self.server.data), "-R", "-X", "stream",
                     "-c", "fast")
        self.server.resume()
        self._primary_sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self._primary_sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 60
        while self.state() != "sync":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby is not synchronous: {self.state()}")
            time.sleep(0.1)

    def state(self) -> str | None:
        """The standby's sync_state as the primary sees it: 'sync' when commits wait."""
        rows = self._primary_sql("SELECT sync_state FROM pg_stat_replication "
                                 "WHERE state = 'streaming'")
        return rows[0][0] if rows else None

    def _primary_sql(self, sql: str) -> list:
        import psycopg

        with psycopg.connect(self.primary.url("postgres"), autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def rows(self, store_url: str) -> int:
        """The records the standby holds in the database at `store_url`, once it has
        replayed all the primary has flushed (a synchronous commit waits for the
        standby's disk, not for its replay)."""
        import psycopg

        target = self._primary_sql("SELECT pg_current_wal_flush_lsn()")[0][0]
        database = urlsplit(store_url).path.lstrip("/")
        with psycopg.connect(self.server.url(database), autocommit=True) as standby:
            deadline = time.monotonic() + 60
            while not standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                      (target,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the standby did not replay the primary's WAL")
                time.sleep(0.05)
            return standby.execute("SELECT count(*) FROM records").fetchone()[0]

    def stop(self) -> None:
        self.server.stop()


def run_receiver(url: str, store_url: str) -> None:
    """Commit batches until SIGTERM, as a `district serve` worker does; say `ready` once
    subscribed."""
    from district.receiver import Receiver
    from district.stores import open_store
    from runtime import gc_tuning

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    gc_tuning.for_ingest()      # as `district serve` does
    with open_store(store_url) as storage:
        receiver = Receiver(url, storage)
        receiver.start()
        while not receiver.connected:
            time.sleep(0.01)
        print("ready", flush=True)
        done.wait()
        receiver.stop()
        print(json.dumps({"flushes": receiver.writer.flushes, "batches": receiver.batches}),
              flush=True)


# -- the parent: broker, children, timing -------------------------------------------

NAGLE_ENV = "BENCH_DELIVERY_NAGLE"     # a child whose clients leave Nagle's algorithm on


def child(role: str, *args, nagle: bool = False) -> subprocess.Popen:
    env = {**os.environ, NAGLE_ENV: "1"} if nagle else None
    return subprocess.Popen([sys.executable, __file__, "--role", role, *map(str, args)],
                            stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)


def start_receivers(url: str, store_url: str, count: int,
                    nagle: bool = False) -> list[subprocess.Popen]:
    from district.stores import open_store

    open_store(store_url).close()       # schema made once, not raced by the workers
    workers = [child("receiver", url, store_url, nagle=nagle) for _ in range(count)]
    for worker in workers:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError("a receiver did not start")
    return workers


def stop_all(processes: list[subprocess.Popen]) -> int:
    """Stop the children; the flushes (transactions of batches) the receivers among them
    committed."""
    for process in processes:
        process.terminate()
    flushes = 0
    for process in processes:
        out, _ = process.communicate(timeout=10)
        flushes += sum(json.loads(line).get("flushes", 0) for line in out.splitlines()
                       if line.startswith("{"))
    return flushes


def district_rows(store_url: str) -> int:
    from district.stores import open_store

    # No duplicate can be counted: the district's UNIQUE (id) and (device, store, seq)
    # refuse them, so "all N rows" means none lost and none doubled.
    with open_store(store_url) as storage:
        return storage.count()


def bench_drain(broker, folder: Path, count: int, kind: str, store_url: str, pg=None,
                nagle: bool = False) -> dict:
    device_db = folder / f"device-{kind}{'-nagle' if nagle else ''}.db"
    fill_device_store(device_db, count)
    workers = start_receivers(broker.url, store_url, 1, nagle=nagle)
    cpu = meter(broker, pg, workers)
    try:
        cpu.start()
        device = child("device", broker.url, device_db, nagle=nagle)
        result = json.loads(device.stdout.readline())
        used = {"device": result.pop("cpu_s"), **cpu.read()}
        device.wait(timeout=30)
    finally:
        stop_all(workers)
    rows = district_rows(store_url)
    return {"bench": "drain_nagle" if nagle else "drain", "store": kind, **result,
            "records_per_s": round(result["records"] / result["seconds"]),
            "district_rows": rows, "lost": count - rows, "cpu_s": used}


def encoded_batches(count: int, devices: int, size: int) -> list[tuple[str, object]]:
    """The batches devices would send: `count` records over `devices`, `size` a batch.

    150 records of this kind make about 64 KiB of JSON, a full batch (a backlog); one
    record a batch is a device at the gate in steady state, each decision sent at once."""
    now, batches = time.time(), []
    for d in range(devices):
        device, store_id = f"bench-{d:04d}", str(uuid.uuid4())
        share = range(d, count, devices)
        records = [{**make_record(n, now).to_wire(), "seq": i + 1} for i, n in enumerate(share)]
        for start in range(0, len(records), size):
            batch = encode_batch(device, store_id, records[start:start + size], rfc3339(now))
            batches.append((device, batch))
    return batches


def publish_all(url: str, batches: list, acked: AckCounter | None = None) -> None:
    """Publish every batch at QoS 1 as fast as the broker takes them; with `acked`, the
    same client first subscribes to every device's acks and counts them there."""
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    target = urlsplit(url)
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    if acked is not None:
        client.on_message = lambda _client, _userdata, message: acked.add(message.payload)
        client.on_subscribe = lambda *_: subscribed.set()
    client.connect(target.hostname, target.port)
    client.loop_start()
    if acked is not None:
        client.subscribe("cp/v1/+/ack", qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("the ack subscription was not granted")
        acked.start()
    sent = []
    for device, batch in batches:
        properties = Properties(PacketTypes.PUBLISH)
        properties.ContentType = batch.content_type
        sent.append(client.publish(f"cp/v1/{device}/records", batch.payload, qos=1,
                                   properties=properties))
    for info in sent:
        info.wait_for_publish(timeout=60)
    if acked is not None:
        acked.wait()
    client.disconnect()
    client.loop_stop()


class AckCounter:
    """Records acked (accepted or rejected), counted from the acks as a device reads them;
    `seconds` from start() to the ack that completed `expected`."""

    def __init__(self, expected: int, timeout_s: float) -> None:
        self.expected = expected
        self.timeout_s = timeout_s
        self.records = 0
        self.started = 0.0
        self.seconds: float | None = None
        self._all = threading.Event()

    def start(self) -> None:
        self.started = time.perf_counter()

    def add(self, payload: bytes) -> None:
        ack = json.loads(payload)
        self.records += sum(last - first + 1 for first, last in ack["accepted"])
        self.records += len(ack["rejected"])
        if self.records >= self.expected and self.seconds is None:
            self.seconds = time.perf_counter() - self.started
            self._all.set()

    def wait(self) -> bool:
        return self._all.wait(self.timeout_s)


def bench_ingest(broker, count: int, workers: int, batches: list, kind: str,
                 store_url: str, pg=None) -> dict:
    processes = start_receivers(broker.url, store_url, workers)
    cpu = meter(broker, pg, processes)
    try:
        acked = AckCounter(count, max(60.0, count / 100))
        cpu.start()
        publish_all(broker.url, batches, acked)
        used = cpu.read()
    finally:
        flushes = stop_all(processes)
    seconds = acked.seconds or time.perf_counter() - acked.started     # timed out: all of it
    rows = district_rows(store_url)
    result = {"bench": "ingest", "store": kind, "workers": workers, "records": count,
              "batches": len(batches), "flushes": flushes, "seconds": round(seconds, 2),
              "acked": acked.records, "records_per_s": round(acked.records / seconds),
              "district_rows": rows, "lost": count - rows, "cpu_s": used}
    if pg is not None and pg.replica is not None:
        result["replica_rows"] = pg.replica.rows(store_url)
    return result


def bench_raw(batches: list, kind: str, store_url: str, pg=None) -> dict:
    """The database's limit for these records in this schema (see the module's doc)."""
    from district.ingest import FLUSH_RECORDS
    from district.stores import open_store
    from district.stores.sql import COLUMNS, INSERT
    from district.validate import decode_payload

    with open_store(store_url) as storage:      # the schema, as the receiver makes it
        rows = [row for device, batch in batches
                for row in storage.prepare(device, decode_payload(
                    batch.payload, batch.content_type)).rows.values()]
    chunks = [rows[at:at + FLUSH_RECORDS] for at in range(0, len(rows), FLUSH_RECORDS)]
    cpu = meter(None, pg, [])
    write = _raw_pg if kind == "postgresql" else _raw_sqlite
    cpu.start()
    started, mine = time.perf_counter(), os.times()
    write(store_url, chunks, ", ".join(COLUMNS), INSERT)
    seconds, now = time.perf_counter() - started, os.times()
    used = {"this_process": round(now.user + now.system - mine.user - mine.system, 2),
            **cpu.read()}
    return {"bench": "raw", "store": kind, "records": len(rows),
            "transaction_rows": FLUSH_RECORDS, "seconds": round(seconds, 2),
            "records_per_s": round(len(rows) / seconds), "district_rows":
            district_rows(store_url), "cpu_s": used}


def _raw_pg(store_url: str, chunks: list, columns: str, insert: str) -> None:
    import psycopg

    from district.stores.postgres import STAGING_TYPES

    with psycopg.connect(store_url, autocommit=True) as db:
        db.execute(f"CREATE TEMPORARY TABLE raw_staging AS SELECT {columns} FROM records "
                   "WITH NO DATA")
        for chunk in chunks:
            with db.transaction(), db.cursor() as cursor:
                with cursor.copy(f"COPY raw_staging ({columns}) FROM STDIN "
                                 "(FORMAT BINARY)") as copy:
                    copy.set_types(STAGING_TYPES)     # as the receiver copies
                    for row in chunk:
                        copy.write_row(row)
                cursor.execute(f"INSERT INTO records ({columns}) SELECT {columns} "
                               "FROM raw_staging ON CONFLICT DO NOTHING")
                cursor.execute("TRUNCATE raw_staging")


def bench_commit(store_url: str, count: int = 300) -> dict:
    """What one commit costs the writer, apart from the work in it: `count` transactions of
    one small row into a plain (WAL-logged) table, each timed from COMMIT sent to its
    answer. With fsync on that is the WAL flush; with a synchronous standby, also the
    round trip to it and the standby's flush."""
    import psycopg

    times = []
    with psycopg.connect(store_url) as db:
        db.execute("CREATE TABLE commit_probe (n integer)")
        db.commit()
        for n in range(count):
            db.execute("INSERT INTO commit_probe VALUES (%s)", (n,))
            started = time.perf_counter()
            db.commit()
            times.append(time.perf_counter() - started)
    times.sort()
    return {"bench": "commit", "store": "postgresql", "commits": count,
            "p50_ms": round(times[count // 2] * 1000, 2),
            "p99_ms": round(times[int(count * 0.99)] * 1000, 2)}


def _raw_sqlite(store_url: str, chunks: list, columns: str, insert: str) -> None:
    from runtime import sqlite

    db = sqlite.connect(Path(store_url.removeprefix("sqlite:///")))
    try:
        for chunk in chunks:
            with sqlite.transaction(db):
                db.executemany(insert, chunk)
    finally:
        db.close()


def fresh_stores(kind: str, folder: Path, pg):
    """An endless supply of empty district store URLs of one kind."""
    for number in range(1_000):
        yield pg.new_database() if kind == "postgresql" else \
            f"sqlite:///{folder}/district-{number}.db"


def run_all(args, folder: Path) -> None:
    from tests.support.broker import Broker

    kinds = args.stores.split(",")
    broker = Broker(folder / "broker")
    # Shared subscribers fall behind a fast publisher: queue, never drop.
    with open(broker.conf, "a") as conf:
        conf.write("max_queued_messages 0\nmax_queued_bytes 0\n")
    pg = durable_pg() if "postgresql" in kinds else None
    nagle = nagle_broker(folder) if args.nagle_baseline else None
    broker.start()
    try:
        if pg:
            pg.start()
            pg.replica = SyncReplica(pg) if args.sync_replica else None
            if pg.replica:
                pg.replica.start()
        if nagle:
            nagle.start()
        batches = encoded_batches(args.records, args.devices, args.batch_size)
        for kind in kinds:
            stores = fresh_stores(kind, folder, pg)
            raw = bench_raw(batches, kind, next(stores), pg if kind == "postgresql" else None)
            print(json.dumps(raw), flush=True)
            on_pg = pg if kind == "postgresql" else None
            if on_pg:
                print(json.dumps(bench_commit(next(stores))), flush=True)
            baseline = nagle and bench_drain(nagle, folder, args.records, kind, next(stores),
                                             on_pg, nagle=True)
            if baseline:
                print(json.dumps(baseline), flush=True)
            drained = bench_drain(broker, folder, args.records, kind, next(stores), on_pg)
            if baseline:
                drained["vs_nagle"] = round(drained["records_per_s"]
                                            / baseline["records_per_s"], 2)
            print(json.dumps(drained), flush=True)
            ingested = {}
            for workers in (int(w) for w in args.workers.split(",")):
                result = bench_ingest(broker, args.records, workers, batches, kind,
                                      next(stores), on_pg)
                ingested[workers] = result["records_per_s"]
                print(json.dumps(result), flush=True)
            line = summary(kind, raw, drained, ingested)
            if on_pg and on_pg.replica:
                line["sync_replica"] = on_pg.replica.state()   # still 'sync' at the end
            print(json.dumps(line), flush=True)
    finally:
        broker.stop()
        if nagle:
            nagle.stop()
        if pg:
            if pg.replica:
                pg.replica.stop()
            pg.stop()


def summary(kind: str, raw: dict, drained: dict, ingested: dict[int, int]) -> dict:
    """The figures side by side, and the ratios the district's goals are stated in."""
    line = {"bench": "summary", "store": kind, "raw_records_per_s": raw["records_per_s"],
            "drain_records_per_s": drained["records_per_s"],
            **{f"receiver_{n}_records_per_s": rate for n, rate in ingested.items()}}
    if 1 in ingested:
        line["receiver_1_vs_raw"] = round(ingested[1] / raw["records_per_s"], 2)
    if 1 in ingested and 2 in ingested:
        line["receiver_2_vs_1"] = round(ingested[2] / ingested[1], 2)
    return line


def nagle_broker(folder: Path):
    """A broker as the tests' one, but with Nagle's algorithm left on: the baseline."""
    from tests.support.broker import Broker

    (folder / "broker-nagle").mkdir()
    broker = Broker(folder / "broker-nagle")
    kept = [line for line in broker.conf.read_text().splitlines()
            if line != "set_tcp_nodelay true"]
    broker.conf.write_text("\n".join(kept) + "\nmax_queued_messages 0\nmax_queued_bytes 0\n")
    return broker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="receiver counts for ingest")
    parser.add_argument("--devices", type=int, default=20, help="devices in the ingest run")
    parser.add_argument("--batch-size", type=int, default=150,
                        help="records per batch in the ingest run (150: a full batch)")
    parser.add_argument("--stores", default="sqlite,postgresql",
                        help="district stores to measure: sqlite, postgresql or both")
    parser.add_argument("--nagle-baseline", action="store_true",
                        help="measure the drain with Nagle's algorithm on first, for a ratio")
    parser.add_argument("--sync-replica", action="store_true",
                        help="PostgreSQL: commit to a synchronous streaming standby too")
    parser.add_argument("--role", nargs=3, metavar=("ROLE", "URL", "STORE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        if os.environ.get(NAGLE_ENV):
            import runtime.mqtt

            runtime.mqtt.no_delay = lambda *_: None     # the baseline: as paho's default
        role, url, store = args.role
        if role == "device":
            run_device(url, Path(store))
        else:
            run_receiver(url, store)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        (Path(tmp) / "broker").mkdir()
        run_all(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
