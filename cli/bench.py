"""`checkpoint bench [--json] [--frames N]`: how fast the device's hot paths are, measured here.

Each section is a function returning a dict of figures plus a function printing them as a
table; `SECTIONS` lists them in the order they run. The decode section times our decoder
("auto") and the pyzbar baseline on the same rendered frames, in the same run.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.decode import measure_decode, show_decode
from bench.verify import measure_verify, show_verify
from cli.common import UsageError
from cli.config import load_or_explain


@dataclass(frozen=True)
class Section:
    name: str
    measure: Callable[[object], dict]   # parsed arguments -> figures (JSON-ready)
    show: Callable[[dict], None]        # figures -> a table on stdout


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="measure decode time (and more) on this machine",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    parser.add_argument("--frames", type=int, default=100, metavar="N",
                        help="frames per case for the decode section")
    parser.add_argument("--decisions", type=int, default=200, metavar="N",
                        help="decisions to time in the simulated run (latency section)")
    parser.add_argument("--people", type=int, default=300, metavar="N",
                        help="people to send through the lane (lane section, one a second)")
    parser.add_argument("--scenario", type=Path, default=None, metavar="F",
                        help="lane section: scenario TOML (default: lane-scenario.toml "
                             "beside the config)")
    parser.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                        metavar="F", help="config whose demo district the simulated run uses")
    parser.add_argument("--only", choices=[s.name for s in SECTIONS],
                        help="run one section only (default: all of them)")
    parser.set_defaults(func=run_bench)


def run_bench(args) -> int:
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: must be at least 1")
    if args.decisions < 1:
        raise UsageError(f"--decisions {args.decisions}: must be at least 1")
    if args.people < 1:
        raise UsageError(f"--people {args.people}: must be at least 1")
    sections = [s for s in SECTIONS if args.only in (None, s.name)]
    figures = {section.name: section.measure(args) for section in sections}
    if args.json:
        print(json.dumps(figures))
        return 0
    for section in sections:
        section.show(figures[section.name])
    return 0


def _latency(args) -> dict:
    from bench.latency import measure_latency

    load_or_explain(args.config)
    return measure_latency(args.config, decisions=args.decisions)


def _lane(args) -> dict:
    from bench.lane import measure_lane

    load_or_explain(args.config)
    return measure_lane(args.config, people=args.people, scenario=args.scenario)


def _console(args) -> dict:
    from bench.console import measure_console

    load_or_explain(args.config)
    return measure_console(args.config, decisions=args.decisions)


def _thermal(args) -> dict:
    from bench.thermal import measure

    return measure()


def _cards() -> dict:
    from bench.cards import measure

    return measure()


def _show(module: str, function: str) -> Callable[[dict], None]:
    """A section's table printer, imported only when the section runs."""
    return lambda figures: getattr(importlib.import_module(module), function)(figures)


# The sections `checkpoint bench` runs, in order. A new section is one more entry:
# Section("name", measure=lambda args: {...figures...}, show=print_its_table).
SECTIONS: list[Section] = [
    Section("decode", measure=lambda args: measure_decode(args.frames), show=show_decode),
    Section("latency", measure=_latency, show=_show("bench.latency", "show_latency")),
    Section("lane", measure=_lane, show=_show("bench.lane", "show_lane")),
    Section("console", measure=_console, show=_show("bench.console", "show_console")),
    Section("verify", measure=lambda args: measure_verify(), show=show_verify),
    Section("thermal", measure=_thermal, show=_show("bench.thermal", "show")),
    Section("cards", measure=lambda args: _cards(), show=_show("bench.cards", "show")),
]
