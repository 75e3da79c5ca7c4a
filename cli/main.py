"""`checkpoint`: one console script with a subcommand for every job (PROTOCOL.md section 7).

Each command group lives in its own module with a `register(subparsers)` function; the
modules import nothing heavy at the top, so `checkpoint --help` stays fast and OpenCV is
loaded only by the commands that decode images.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cli.common import UsageError

# Command-group modules, in the order their commands appear in --help.
GROUPS = (
    "cli.run",
    "cli.config",
    "cli.scan",
    "cli.passes",
    "cli.records",
    "cli.thermal",
    "cli.calibrate",
    "cli.bench",
    "cli.district",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: exit 2, one line
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="checkpoint", description="Smart community checkpoint")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a group not built yet
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"checkpoint: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
