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
    "cli.signing",
    "cli.verify",
    "cli.records",
    "cli.thermal",
    "cli.calibrate",
    "cli.bench",
    "cli.district",
    "cli.guard",
    "cli.card",
    "cli.doctor",
    "cli.provision",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with "(default: X)", written once here rather than in each
    help text; an option whose default is None or False (no value, a flag that is off)
    says nothing, or says in its own help what happens without it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


class _Version(argparse.Action):
    """`--version`: `checkpoint VERSION` on stdout, exit 0. The package metadata is read
    only then: importing importlib.metadata would double the time `--help` takes."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, help=None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from runtime.version import VERSION

        sys.stdout.write(f"checkpoint {VERSION}\n")
        parser.exit(0)


class _Parser(argparse.ArgumentParser):
    """Every parser and subparser of `checkpoint` (add_subparsers passes the class on)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse's own usage errors: exit 2, one line
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="checkpoint", description="Smart community checkpoint")
    parser.add_argument("--version", action=_Version, help="print `checkpoint VERSION` and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in GROUPS:
        importlib.import_module(name).register(subparsers)
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
