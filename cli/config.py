"""`checkpoint config check`: what `run` will need, every problem named at once.

The file itself (keys, types, driver URL options) and everything outside it that `run`
reads (edge/configcheck.py): errors on stderr, one per line, then exit 2; warnings (a
device node absent on this machine) on stderr too, after which the check still passes.
`run` makes the same check before it starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cli.common import UsageError, config_usage_error


def register(subparsers) -> None:
    parser = subparsers.add_parser("config", help="configuration tools")
    commands = parser.add_subparsers(dest="config_command", metavar="ACTION")
    commands.required = True
    check = commands.add_parser("check", help="validate a config file and what it points at")
    check.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                       metavar="F", help="the agent's config file")
    check.set_defaults(func=check_config)


def load_or_explain(path: Path):
    """The validated config, or every error on stderr and a UsageError (exit 2)."""
    from edge.config import load_config
    from runtime.configfile import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        raise config_usage_error(exc) from None


def checked(config) -> None:
    """Print every finding of edge.configcheck on stderr; UsageError (exit 2) on errors."""
    from edge.configcheck import check

    findings = check(config)
    for finding in findings:
        kind = "" if finding.level == "error" else f"{finding.level}: "
        print(f"config {config.path}: {kind}{finding.text}", file=sys.stderr)
    errors = sum(finding.level == "error" for finding in findings)
    if errors:
        raise UsageError(f"config {config.path}: {errors} error{'s' * (errors > 1)}")


def check_config(args) -> int:
    config = load_or_explain(args.config)
    checked(config)
    print(f"config {config.path}: ok")
    return 0
