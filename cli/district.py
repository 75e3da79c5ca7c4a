"""`checkpoint district serve|records|devices|trace|publish|broker-acl|add-device|audit|
partitions`: the district side.

The one place of the command line that reaches the district side; it imports `district`
only inside the handlers, so the device's commands never load it.
"""

from __future__ import annotations

import contextlib
import csv
import faulthandler
import logging
import math
import os
import re
import signal
import sys
import threading
from pathlib import Path

from cli.common import UsageError, config_usage_error, emit
from models.wire import ROOT

DEFAULT_CONFIG = Path("config/district.toml")
SUPERVISE_EVERY_S = 1.0
MAX_WORKERS = 64


def register(subparsers) -> None:
    parser = subparsers.add_parser("district", help="reference district receiver")
    commands = parser.add_subparsers(dest="district_command", metavar="ACTION")
    commands.required = True
    serve_parser = commands.add_parser("serve", help="receive and acknowledge device records")
    serve_parser.add_argument("--workers", type=int, default=1, metavar="N",
                              help="receiver processes sharing the subscription: one per "
                                   "core the receivers may use")
    serve_parser.set_defaults(func=serve)
    records_parser = commands.add_parser("records", help="export the records the district holds")
    records_parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                                help="JSON lines or CSV with a header row")
    records_parser.set_defaults(func=export)
    devices_parser = commands.add_parser(
        "devices", help="the device registry: last status, and devices flagged for sending "
                        "from two stores at once (a cloned or misconfigured device)")
    devices_parser.add_argument("--clear-flag", metavar="ID",
                                help="clear the flag of device ID once it is sorted out")
    devices_parser.set_defaults(func=devices)
    trace_parser = commands.add_parser(
        "trace", help="where and when a subject or a card passed, and who else was at that "
                      "gate")
    trace_parser.add_argument("subject", metavar="SUBJECT",
                              help="subject id or card token (hex): records holding it in "
                                   "either field")
    trace_parser.add_argument("--since", metavar="T",
                              help="from time T on: RFC 3339 time or date (default: no limit)")
    trace_parser.add_argument("--until", metavar="T",
                              help="up to time T: RFC 3339 time or date (default: no limit)")
    trace_parser.add_argument("--window", type=float, default=15, metavar="M",
                              help="minutes either side of a visit")
    trace_parser.add_argument("--purpose", metavar="TEXT",
                              help="why you trace (required, 5 to 500 characters): kept "
                                   "in the audit log with your name before any result")
    trace_parser.add_argument("--operator", metavar="NAME",
                              help="who traces, for the audit log (default: your login "
                                   "name)")
    trace_parser.set_defaults(func=trace)
    publish_parser = commands.add_parser(
        "publish", help="push a signed bundle to the devices, retained")
    publish_parser.add_argument("--kind", required=True,
                                choices=("trustlist", "revocations", "policy", "roster"),
                                help="what the bundle holds")
    publish_parser.add_argument("--file", type=Path, required=True, metavar="F",
                                help="bundle made by `checkpoint bundle sign`")
    publish_parser.add_argument("--device", metavar="ID",
                                help="to this device's config topic (needed for policy, roster)")
    publish_parser.add_argument("--root", type=Path, metavar="PEM",
                                help="root public key to check the bundle with "
                                     "(default: [signing] root_key)")
    publish_parser.set_defaults(func=publish)
    acl_parser = commands.add_parser(
        "broker-acl", help="print the broker's access rules for these devices: the "
                           "Mosquitto dynamic-security file (docs/broker.md)")
    acl_parser.add_argument("devices", nargs="*", metavar="DEVICE",
                            help="device id, the CN of the device's certificate (none: "
                                 "receivers only, devices to be added live)")
    acl_parser.add_argument("--root", default=ROOT, metavar="R",
                            help="topic root shared with the devices")
    acl_parser.add_argument("--receiver", action="append", metavar="NAME",
                            help="CN of a receiver's certificate, 'district' or "
                                 "'district-NAME'; repeat for several (without it: district)")
    acl_parser.add_argument("--admin", metavar="NAME",
                            help="CN allowed to change the rules live with mosquitto_ctrl "
                                 "(without it: nobody)")
    acl_parser.set_defaults(func=broker_acl)
    _register_add_device(commands)
    _register_audit(commands)
    partitions_parser = _register_partitions(commands)
    for command in (serve_parser, records_parser, devices_parser, trace_parser,
                    publish_parser, partitions_parser):
        command.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="F",
                             help="the district's config file")


def _load(path: Path):
    from district.config import load_district_config
    from runtime.configfile import ConfigError

    try:
        return load_district_config(path)
    except ConfigError as exc:
        raise config_usage_error(exc) from None


def _open_store(config, reader: str | None = None):
    """The configured store; a `reader` command refuses to create an empty SQLite file."""
    from district.stores import open_store
    from district.stores.sql import DistrictStoreError

    if reader and config.db_path is not None and not config.db_path.exists():
        raise UsageError(f"{reader}: no store at {config.db_path}")
    try:
        return open_store(config.store_url)
    except DistrictStoreError as exc:
        raise UsageError(str(exc)) from None


def serve(args) -> int:
    """Receive until Ctrl-C or SIGTERM; exit 1 if a thread of the receiver dies. With
    --workers N, supervise N receiver processes (district/workers.py)."""
    from district.receiver import Receiver
    from runtime import gc_tuning, logs

    if not 1 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"district serve: --workers must be 1 to {MAX_WORKERS}")
    config = _load(args.config)
    logs.setup()
    faulthandler.enable()   # a native crash leaves its stacks in the journal (cli/run.py)
    worker = _worker_index()
    if args.workers > 1 and worker is None:
        return _serve_pool(args, config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    gc_tuning.for_ingest()
    with _open_store(config) as storage, contextlib.ExitStack() as serving:
        metrics = _metrics(config, serving, worker or 0)
        try:
            receiver = Receiver(config.mqtt_urls, storage, root=config.root, tls=config.tls,
                                metrics=metrics and metrics[0], worker=worker)
        except (OSError, ValueError) as exc:    # TLS files: ssl.SSLError is an OSError
            raise UsageError(f"district serve: [mqtt] TLS files: {exc}") from None
        receiver.start()
        logs.event("serving", broker=config.mqtt_url, failover=config.mqtt_urls[1:],
                   worker=worker,
                   metrics=metrics and metrics[1].listen,
                   store=config.db_path or config.store_url.split("@")[-1])
        threads = {"mqtt-network": lambda: receiver.alive,
                   "writer": lambda: receiver.writer.alive}
        if metrics:
            threads["metrics"] = lambda: metrics[1].worker.alive
        upkeep = _partition_upkeep(config, storage)
        while not stop.wait(SUPERVISE_EVERY_S):
            dead = [name for name, alive in threads.items() if not alive()]
            if dead:
                logs.event("worker_died", logging.CRITICAL, worker=",".join(dead))
                print(f"district serve: the {', '.join(dead)} thread died; exiting so the "
                      "service manager restarts the receiver", file=sys.stderr)
                return 1
            if upkeep:
                upkeep.tick()
        receiver.stop()
    return 0


def _partition_upkeep(config, storage):
    """The months made ahead while serving (district/partition_upkeep.py), on a
    partitioned PostgreSQL store; None on SQLite or a store made before partitioning."""
    from district.partition_upkeep import PartitionUpkeep

    if not storage.partitioned:
        return None
    return PartitionUpkeep(lambda: _open_store(config))


def _worker_index() -> int | None:
    """Which worker of `serve --workers N` this process is (district/workers.py sets it in
    the environment), or None when it is not one."""
    from district.workers import WORKER_ENV

    text = os.environ.get(WORKER_ENV, "")
    return int(text) if text.isdigit() else None


def _serve_pool(args, config) -> int:
    """The parent of `--workers N`: the schema made once (not raced by N workers), then
    the workers started and supervised until Ctrl-C or SIGTERM."""
    from district.workers import Pool

    _open_store(config).close()
    pool = Pool(args.config, args.workers)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: pool.stop())
    return pool.run()


def _metrics(config, serving, worker: int = 0):
    """(ReceiverMetrics, MetricsServer) serving `[metrics] listen`, or None when unset.
    Worker I of a pool listens on the port after I others: each process counts its own
    (docs/observability.md)."""
    if not config.metrics_listen:
        return None
    from district.metrics import ReceiverMetrics
    from runtime.metrics_http import MetricsServer

    host, _, port = config.metrics_listen.rpartition(":")
    metrics = ReceiverMetrics(config.store_url)
    server = MetricsServer(f"{host}:{int(port) + worker}", metrics.render)
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"district serve: {exc}") from None
    serving.callback(server.stop)
    return metrics, server


def export(args) -> int:
    from district.stores.sql import FIELDS

    config = _load(args.config)
    with _open_store(config, "district records") as storage:
        rows = storage.records()
        if args.format == "jsonl":
            for row in rows:
                emit(row)
        else:
            writer = csv.DictWriter(sys.stdout, fieldnames=("device", "store", *FIELDS),
                                    lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "reasons": ";".join(row["reasons"])})
    return 0


def devices(args) -> int:
    """One JSON line per device: online, last seen, last status, flag, the stores it used."""
    config = _load(args.config)
    with _open_store(config, "district devices") as storage:
        known = {row["device"] for row in storage.devices()}
        if args.clear_flag:
            if args.clear_flag not in known:
                raise UsageError(f"district devices: no device {args.clear_flag!r}")
            storage.clear_flag(args.clear_flag)
        for row in storage.devices():
            emit({**row, "stores": storage.stores_of(row["device"])})
    return 0


def trace(args) -> int:
    """One JSON line per contact; exit 1 when the subject (or card token) never passed in
    that time. The query's audit row (district/audit.py) is committed before the query
    runs: a trace whose row cannot be written is refused (exit 2) and prints nothing."""
    from district import audit
    from district.trace import trace as trace_subject
    from runtime import logs

    query, since, until = _trace_query(args)
    config = _load(args.config)
    if not logging.getLogger("checkpoint").hasHandlers():   # unless a host set logging up
        logs.setup(stream=sys.stderr)   # stdout carries the JSON lines only
    with _open_store(config, "district trace") as storage:
        try:
            entry = audit.open_entry(storage, query)
        except Exception as exc:    # any failure of the store: no audit row, no trace
            logs.event("trace_refused", logging.WARNING, operator=query.operator,
                       reason="audit_unwritable", error=f"{type(exc).__name__}")
            raise UsageError("district trace: refused: the audit log cannot be written "
                             f"({_one_line(exc)}); a trace runs only once its audit row "
                             "is stored") from None
        try:
            lines = _traced(storage, entry, query.operator, lambda: list(trace_subject(
                storage, query.subject, since_s=since, until_s=until,
                window_s=args.window * 60)))
        except Exception as exc:    # the store failed mid-query: its audit row says so
            raise UsageError(f"district trace: the store failed ({_one_line(exc)}); "
                             "the query stays in the audit log") from None
    for line in lines:
        emit(line)
    return 0 if lines else 1


def _trace_query(args):
    """The trace's terms for its audit row, each checked before the store is opened, and
    its time range as epoch seconds."""
    from district.audit import OPERATOR_CHARS, PURPOSE_CHARS, Query, text_problem

    subject = args.subject.lower()
    if not re.fullmatch(r"[0-9a-f]+", subject):
        raise UsageError(f"district trace: subject {args.subject!r} is not hex")
    if not (math.isfinite(args.window) and args.window >= 0):
        raise UsageError("district trace: --window must be 0 or more minutes")
    if args.purpose is None:
        raise UsageError("district trace: --purpose TEXT is required: tracing people is "
                         "the most sensitive thing the district can do, so each trace is "
                         "logged with who asked and why (`checkpoint district audit` "
                         "lists them)")
    purpose = args.purpose.strip()
    operator = (args.operator if args.operator is not None else _login_name()).strip()
    for text, what, bounds in ((purpose, "--purpose", PURPOSE_CHARS),
                               (operator, "--operator", OPERATOR_CHARS)):
        if problem := text_problem(text, what, bounds):
            raise UsageError(f"district trace: {problem}")
    since, until = _time(args.since, "--since"), _time(args.until, "--until")
    query = Query(operator, purpose, subject, _wire(since), _wire(until), args.window)
    return query, since, until


def _one_line(exc: BaseException) -> str:
    """A store's error for a one-line message (PostgreSQL's run over several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:240]


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):     # no login name and no passwd entry (a bare container)
        raise UsageError("district trace: no login name to log; give --operator NAME") \
            from None


def _wire(epoch_s: float | None) -> str | None:
    from models.timefmt import rfc3339

    return None if epoch_s is None else rfc3339(epoch_s)


def _traced(storage, entry: str, operator: str, run) -> list[dict]:
    """Run the query and close its audit row with what it found; a failed query is
    closed as "failed" (when the store still lets it) and its error raised."""
    from district import audit
    from runtime import logs

    try:
        lines = run()
    except Exception as exc:
        with contextlib.suppress(Exception):
            audit.close_entry(storage, entry, visits=None, lines=None, outcome="failed")
        logs.event("trace_audited", logging.WARNING, audit=entry, operator=operator,
                   outcome="failed", error=type(exc).__name__)
        raise
    visits = len({(line["device"], line["gate"], line["ts"]) for line in lines})
    outcome = "found" if lines else "none"
    try:
        audit.close_entry(storage, entry, visits=visits, lines=len(lines), outcome=outcome)
    except Exception as exc:    # the row exists, its outcome stays null: shown as such
        logs.event("trace_audit_unclosed", logging.WARNING, audit=entry,
                   error=type(exc).__name__)
    logs.event("trace_audited", audit=entry, operator=operator, visits=visits,
               outcome=outcome)
    return lines


def _time(text: str | None, option: str) -> float | None:
    from models.timefmt import parse_rfc3339

    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise UsageError(f"district trace {option}: {exc}") from None


def publish(args) -> int:
    from district.publish import PublishError, bundle_topic, publish_retained
    from models.bundle import BundleError, open_bundle

    config = _load(args.config)
    try:
        envelope = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"district publish: cannot read {args.file}: {exc.strerror}") from None
    try:
        bundle = open_bundle(envelope, _roots(args, config), expect_kind=args.kind)
        topic = bundle_topic(config.root, args.kind, args.device)
    except (BundleError, ValueError) as exc:
        raise UsageError(f"district publish: {exc}") from None
    try:
        publish_retained(config.mqtt_url, config.tls, topic, envelope)
    except PublishError as exc:
        print(f"district publish: {exc}", file=sys.stderr)
        return 1
    emit({"topic": topic, "kind": bundle.kind, "version": bundle.version,
          "bytes": len(envelope)})
    return 0


def _roots(args, config) -> dict:
    """{kid: public key} of the root that must have signed the bundle."""
    from models.keys import kid_of, load_public_key

    path = args.root or config.signing.get("root_key")
    if path is None:
        raise UsageError("district publish: give --root PEM or set [signing] root_key, "
                         "so the bundle's signature is checked before devices get it")
    try:
        key = load_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"district publish: root key {path}: {exc}") from None
    return {kid_of(key): key}


def broker_acl(args) -> int:
    """The dynamic-security JSON on stdout, for /etc/mosquitto/checkpoint/dynsec.json."""
    import json

    from district.broker_acl import BrokerAclError, dynsec_config

    try:
        receivers = {"receivers": args.receiver} if args.receiver else {}
        rules = dynsec_config(args.devices, root=args.root, admin=args.admin, **receivers)
    except BrokerAclError as exc:
        raise UsageError(f"district broker-acl: {exc}") from None
    sys.stdout.write(json.dumps(rules, indent=2) + "\n")
    return 0


def _register_partitions(commands):
    parser = commands.add_parser(
        "partitions", help="PostgreSQL store: make the monthly partitions of the records "
                           "ahead, drop the months older than the retention")
    parser.add_argument("--ahead", type=int, default=3, metavar="N",
                        help="months made after the current one (0 to 120)")
    parser.add_argument("--retention-days", type=int, metavar="D",
                        help="drop the months that ended more than D days ago (default: "
                             "[store] retention_days; neither: keep every month)")
    parser.set_defaults(func=partitions)
    return parser


def partitions(args) -> int:
    """One JSON line per partition: created, dropped or kept (docs/district.md section 9);
    on SQLite a usage error, since only PostgreSQL partitions."""
    from district.stores.sql import DistrictStoreError

    if not 0 <= args.ahead <= 120:
        raise UsageError("district partitions: --ahead must be 0 to 120 months")
    if args.retention_days is not None and not 1 <= args.retention_days <= 36500:
        raise UsageError("district partitions: --retention-days must be 1 to 36500")
    config = _load(args.config)
    if config.db_path is not None:
        raise UsageError("district partitions: partitioning is PostgreSQL-only; this "
                         f"store is SQLite ({config.db_path})")
    retention = args.retention_days or config.retention_days
    with _open_store(config) as storage:
        try:
            done = storage.partitions(args.ahead, retention)
        except DistrictStoreError as exc:
            raise UsageError(f"district partitions: {exc}") from None
    for entry in done:
        emit(entry)
    return 0


def _register_audit(commands) -> None:
    parser = commands.add_parser(
        "audit", help="the audit log of trace queries: who traced whom, when and why")
    parser.add_argument("--since", metavar="T",
                        help="queries from time T on: RFC 3339 time or date")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="F",
                        help="the district's config file")
    parser.set_defaults(func=audit_log)


def audit_log(args) -> int:
    """One JSON line per trace query, oldest first."""
    from district.audit import entries
    from models.timefmt import parse_rfc3339

    try:
        since = None if args.since is None else parse_rfc3339(args.since)
    except ValueError as exc:
        raise UsageError(f"district audit --since: {exc}") from None
    config = _load(args.config)
    with _open_store(config, "district audit") as storage:
        for row in entries(storage, since):
            emit(row)
    return 0


def _register_add_device(commands) -> None:
    parser = commands.add_parser(
        "add-device", help="a new gate: its certificate, its broker rights, and the folder "
                           "to carry to it with the `checkpoint provision` line to run there")
    parser.add_argument("device", metavar="DEVICE_ID", help="the device id, its certificate CN")
    parser.add_argument("--ca-dir", type=Path, required=True, metavar="DIR",
                        help="the district CA: DIR/ca.pem and DIR/ca-key.pem "
                             "(scripts/make-test-ca.sh makes a test one)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the bundle folder to write (must not exist)")
    parser.add_argument("--broker", required=True, metavar="URL",
                        help="the broker as the gate reaches it, mqtts://HOST:PORT")
    parser.add_argument("--root-key", type=Path, action="append", required=True,
                        metavar="PEM", help="the district's root public key; repeat for several")
    parser.add_argument("--trustlist", type=Path, required=True, metavar="F",
                        help="the signed trust list the gate starts with")
    parser.add_argument("--revocations", type=Path, metavar="F", help="signed revocations")
    parser.add_argument("--policy", type=Path, metavar="F", help="signed policy")
    parser.add_argument("--subject-key", type=Path, metavar="F",
                        help="the district's subject key (a secret)")
    parser.add_argument("--gate", metavar="G", help="the gate's name (default: asked there)")
    parser.add_argument("--dynsec", type=Path, metavar="F",
                        help="the broker's dynamic-security file to add the device to, in "
                             "place (restart the broker after)")
    parser.add_argument("--topic-root", default=ROOT, metavar="R",
                        help="topic root shared with the devices, as in the dynsec file")
    parser.add_argument("--days", type=int, default=825, metavar="N",
                        help="days the certificate is valid")
    parser.add_argument("--force", action="store_true",
                        help="issue a new certificate for a device that has one")
    parser.set_defaults(func=add_device)


def add_device(args) -> int:
    """Everything is read and checked first; then the bundle, the dynsec file and the
    certificate's copy in the CA folder are written, each by a rename."""
    from district.provisioning import (
        DistrictFiles,
        ProvisioningError,
        check_device,
        issue,
        load_ca,
        provision_command,
        replace_file,
        updated_dynsec,
        write_bundle,
    )
    from models.configschema import mqtt_url

    what = "district add-device"
    files = DistrictFiles(tuple(args.root_key), args.trustlist, args.revocations,
                          args.policy, args.subject_key)
    try:
        check_device(args.device)
        if problem := mqtt_url(args.broker):
            raise ProvisioningError(f"--broker {args.broker!r}: {problem}")
        if not args.broker.startswith("mqtts://"):
            raise ProvisioningError(f"--broker {args.broker!r}: gates reach the district's "
                                    "broker with TLS: mqtts://HOST:PORT")
        if not 1 <= args.days <= 3650:
            raise ProvisioningError("--days: allowed 1 to 3650")
        if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
            raise ProvisioningError(f"--out {args.out}: exists and is not an empty folder")
        kept = args.ca_dir / f"{args.device}.pem"
        if kept.exists() and not args.force:
            raise ProvisioningError(f"{kept} exists: {args.device} has a certificate "
                                    "already; give --force to issue a new one")
        for path in files.copies().values():
            if not path.is_file():
                raise ProvisioningError(f"{path}: no such file")
        ca_cert, ca_key = load_ca(args.ca_dir)
        dynsec = updated_dynsec(args.dynsec, args.device, args.topic_root) \
            if args.dynsec else None
        cert_pem, key_pem = issue(args.device, ca_cert, ca_key, args.days)
        command = provision_command(args.device, args.broker, files, args.gate)
        written = write_bundle(args.out, cert_pem, key_pem,
                               (args.ca_dir / "ca.pem").read_bytes(), files, command)
    except ProvisioningError as exc:
        raise UsageError(f"{what}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{what}: {exc.filename}: {exc.strerror}") from None
    if dynsec:
        replace_file(args.dynsec, dynsec[0])
    replace_file(kept, cert_pem, 0o644)
    _tell_add_device(args, written, command, dynsec)
    return 0


def _tell_add_device(args, written: list[str], command: str, dynsec) -> None:
    print(f"device {args.device}: certificate signed by {args.ca_dir / 'ca.pem'} "
          f"(copy kept as {args.ca_dir / (args.device + '.pem')})")
    if dynsec:
        state = "added to" if dynsec[1] else "rules renewed in"
        print(f"broker rights: {state} {args.dynsec}; restart the broker to load them "
              "(docs/broker.md)")
    else:
        print("broker rights: not written (no --dynsec); add the device with "
              "`checkpoint district broker-acl` or mosquitto_ctrl (docs/broker.md)")
    print(f"carry to the gate the folder {args.out} (tls/device.key and any subject.key "
          "are secrets: keep them off shared drives):")
    for name in written:
        print(f"    {name}")
    print("at the gate, inside that folder, as root (it asks for the sensor, camera and "
          "relay, or give --sensor-port, --camera, --relay-pin):")
    print(f"    sudo {command}")
