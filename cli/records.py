"""`checkpoint records`: export the device's decisions as JSON lines or CSV."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from cli.common import UsageError, emit


def register(subparsers) -> None:
    parser = subparsers.add_parser("records", help="export the stored decisions")
    parser.add_argument("--db", type=Path, metavar="F",
                        help="SQLite file (default: [store] path of --config)")
    parser.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                        metavar="F", help="the agent's config, for its [store] path")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                        help="JSON lines or CSV with a header row")
    parser.add_argument("--since", metavar="T",
                        help="only records from time T on, RFC 3339 (default: all)")
    parser.set_defaults(func=export)


def _db_path(args) -> Path:
    if args.db:
        return args.db
    from cli.config import load_or_explain
    return load_or_explain(args.config).store.path


def export(args) -> int:
    from edge.store import Store, StoreError
    from models.records import STORED
    from models.timefmt import parse_rfc3339, rfc3339

    try:
        since = rfc3339(parse_rfc3339(args.since)) if args.since else None
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    path = _db_path(args)
    if not path.exists():
        raise UsageError(f"records: no store at {path}")
    try:
        with Store(path) as store:
            rows = store.records(since)
            if args.format == "jsonl":
                for row in rows:
                    emit(row)
            else:
                _write_csv(rows, (*STORED, "synced"))
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _write_csv(rows, fields) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "reasons": ";".join(row["reasons"])})
