"""`checkpoint district serve|records`: the reference district receiver and its export.

The one place in edge/ that reaches the district side; it imports `district` only
inside the handlers, so the device's commands never load it.
"""

from __future__ import annotations

import csv
import logging
import signal
import sys
import threading
from pathlib import Path

from edge.cli.common import UsageError, emit

DEFAULT_CONFIG = Path("config/district.toml")


def register(subparsers) -> None:
    parser = subparsers.add_parser("district", help="reference district receiver")
    commands = parser.add_subparsers(dest="district_command", metavar="ACTION")
    commands.required = True
    serve_parser = commands.add_parser("serve", help="receive and acknowledge device records")
    serve_parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    serve_parser.set_defaults(func=serve)
    records_parser = commands.add_parser("records", help="export the records the district holds")
    records_parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    records_parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    records_parser.set_defaults(func=export)


def _load(path: Path):
    from district.config import DistrictConfigError, load_district_config

    try:
        return load_district_config(path)
    except DistrictConfigError as exc:
        if len(exc.errors) == 1:
            raise UsageError(str(exc)) from None
        for error in exc.errors:
            print(f"config {exc.path}: {error}", file=sys.stderr)
        raise UsageError(f"config {exc.path}: {len(exc.errors)} errors") from None


def _open_store(path: Path):
    from district.storage import DistrictStore, DistrictStoreError

    try:
        return DistrictStore(path)
    except DistrictStoreError as exc:
        raise UsageError(str(exc)) from None


def serve(args) -> int:
    from district.receiver import Receiver

    config = _load(args.config)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="ts=%(asctime)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with _open_store(config.db_path) as storage:
        receiver = Receiver(config.mqtt_url, storage, root=config.root, tls=config.tls)
        receiver.start()
        logging.getLogger("checkpoint.district").info(
            "event=serving broker=%s store=%s", config.mqtt_url, config.db_path)
        stop.wait()
        receiver.stop()
    return 0


def export(args) -> int:
    from district.storage import FIELDS

    config = _load(args.config)
    if not config.db_path.exists():
        raise UsageError(f"district records: no store at {config.db_path}")
    with _open_store(config.db_path) as storage:
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
