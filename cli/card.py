"""`checkpoint card read`: a technician's probe of a card reader, printing tokens only.

One JSON line per tap, `{"ts", "kind", "token", "ms"}` (PROTOCOL section 7): the token is
made at once with the district's card key, as the agent makes it, and the raw number is
never printed: a technician can check that a card reads, and which token it gives, without
learning or leaking the number.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from cli.common import UsageError, emit

DEFAULT_CONFIG = Path("config/checkpoint.toml")


def register(subparsers) -> None:
    card = subparsers.add_parser("card", help="card reader tools")
    commands = card.add_subparsers(dest="card_command", metavar="COMMAND")
    commands.required = True
    read = commands.add_parser("read", help="print each tap's token as a JSON line")
    read.add_argument("url", metavar="URL", help="serial:///dev/ttyUSB0?protocol=pn532, "
                      "hid:///dev/input/by-id/NAME?format=dec10, or sim://?every=2")
    read.add_argument("--config", type=Path, metavar="F",
                      help=f"the agent's config, for its [trust] card_key "
                      f"(default: {DEFAULT_CONFIG} unless --key is given)")
    read.add_argument("--key", type=Path, metavar="F",
                      help="the card key file itself (at least 32 bytes)")
    read.add_argument("--count", type=int, metavar="N",
                      help="stop after N taps (default: at Ctrl-C)")
    read.add_argument("--timeout", type=float, metavar="S",
                      help="give up when no tap comes for S seconds (default: wait)")
    read.set_defaults(func=read_taps)


def card_key(args) -> bytes:
    """The key from --key, else from the config's [trust] card_key."""
    from models.cards import CardKeyError, read_card_key

    if args.key and args.config:
        raise UsageError("give either --config or --key, not both")
    path = args.key
    if path is None:
        from cli.config import load_or_explain

        config = load_or_explain(args.config or DEFAULT_CONFIG)
        path = config.trust.card_key
        if path is None:
            raise UsageError(f"config {config.path}: [trust] card_key is not set; "
                             "set it or give --key F")
    try:
        return read_card_key(path)
    except CardKeyError as exc:
        raise UsageError(str(exc)) from None


def tap_line(tap, key: bytes, clock) -> dict:
    """The line for one tap; `ms` runs from the reader seeing the card to the token."""
    from models.cards import card_token
    from models.timefmt import rfc3339

    token = card_token(key, tap.kind, tap.number)
    ms = (clock.monotonic() - tap.t_mono) * 1000
    wall = clock.now() - (clock.monotonic() - tap.t_mono)
    return {"ts": rfc3339(wall), "kind": tap.kind, "token": token, "ms": round(ms, 3)}


def read_taps(args) -> int:
    from drivers import registry
    from drivers.base import DriverError
    from drivers.clock import SystemClock

    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError("--timeout must be a positive number of seconds")
    key = card_key(args)
    clock = SystemClock()
    try:
        reader = registry.open_reader(args.url, clock=clock)
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    with reader:
        printed = 0
        while args.count is None or printed < args.count:
            tap = reader.read(timeout=args.timeout or 1.0)
            if tap is None:
                if args.timeout is None:
                    continue
                print(f"checkpoint: no tap on {args.url} within {args.timeout:g} s",
                      file=sys.stderr)
                return 1
            emit(tap_line(tap, key, clock))
            printed += 1
    return 0
