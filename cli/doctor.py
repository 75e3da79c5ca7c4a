"""`checkpoint doctor [--config F] [--json] [--gate] [--timeout S]`: every part of the
gate checked, one line each (PROTOCOL.md section 7).

    ok   camera       sim 640x480 @ 15 fps: 640x480 at 15.0 fps
    fail broker       127.0.0.1:1883: connection refused -- fix: start the broker, ...

`--json` prints one object `{"ok", "checks": [{"name", "status", "detail", "hint"}]}`.
Exit 0 when no check failed (warnings allowed), 1 otherwise; a config that cannot be read
is the config line's failure, not a usage error: doctor always answers in its format.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cli.common import UsageError, emit

NAME_WIDTH = 11


def register(subparsers) -> None:
    parser = subparsers.add_parser("doctor", help="check every part of the gate, with fixes")
    parser.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                        metavar="F", help="the agent's config file")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object for scripts instead of lines")
    parser.add_argument("--gate", action="store_true",
                        help="pulse the relay once and read its state back (the turnstile "
                             "opens: keep the lane clear)")
    parser.add_argument("--timeout", type=_seconds, default=10.0, metavar="S",
                        help="the longest one check may take, in seconds")
    parser.set_defaults(func=doctor)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1.0 <= value <= 300.0:
        raise UsageError(f"--timeout {text}: allowed: 1 to 300 seconds")
    return value


def line(result) -> str:
    text = f"{result.status:<4} {result.name:<{NAME_WIDTH}} {result.detail}"
    return text + (f" -- fix: {result.hint}" if result.hint else "")


def doctor(args) -> int:
    from edge.doctor.runner import passed, run_checks

    results = run_checks(args.config, timeout_s=args.timeout, toggle_gate=args.gate)
    ok = passed(results)
    if args.json:
        emit({"ok": ok, "checks": [result.to_json() for result in results]})
    else:
        for result in results:
            sys.stdout.write(line(result) + "\n")
        sys.stdout.flush()
    return 0 if ok else 1
