"""`checkpoint guard add --file F --id ID`: add a guard (or a new PIN for one) to the
guards file the console reads (`[console] guards`).

The PIN is read from stdin (one line: 4 to 12 digits), never from the command line, where
other users could see it; only its salted scrypt hash is written. The file is replaced
atomically and kept readable by its owner only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cli.common import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("guard", help="guards who may act at the console")
    commands = parser.add_subparsers(dest="guard_command", metavar="ACTION")
    commands.required = True
    add = commands.add_parser("add", help="add a guard, or set a guard's new PIN (from stdin)")
    add.add_argument("--file", type=Path, required=True, metavar="F", help="the guards file")
    add.add_argument("--id", required=True, metavar="ID", help="the guard's id")
    add.set_defaults(func=add_guard)


def add_guard(args) -> int:
    from edge.guards import GUARD_ID, GuardsError, hash_pin, read_guards
    from edge.trust import write_atomically

    if not GUARD_ID.fullmatch(args.id):
        raise UsageError(f"--id {args.id!r}: allowed: 1 to 32 of A-Z a-z 0-9 _ . -")
    pin = sys.stdin.readline().strip()
    try:
        stored = hash_pin(pin)
    except ValueError as exc:
        raise UsageError(f"PIN on stdin: {exc}") from None
    try:
        guards = read_guards(args.file) if args.file.exists() else {}
    except GuardsError as exc:
        raise UsageError(str(exc)) from None
    guards[args.id] = stored
    text = "".join(f"{guard} {value}\n" for guard, value in guards.items())
    try:
        write_atomically(args.file, text.encode())
        os.chmod(args.file, 0o600)
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot write: {exc.strerror}") from None
    print(f"guard {args.id} saved in {args.file} ({len(guards)} guards)")
    return 0
