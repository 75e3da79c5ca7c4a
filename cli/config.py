"""`checkpoint config check`: the same validation `run` does, every error named."""

from __future__ import annotations

from pathlib import Path

from cli.common import UsageError, config_usage_error


def register(subparsers) -> None:
    parser = subparsers.add_parser("config", help="configuration tools")
    commands = parser.add_subparsers(dest="config_command", metavar="ACTION")
    commands.required = True
    check = commands.add_parser("check", help="validate a config file and what it points at")
    check.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"))
    check.set_defaults(func=check_config)


def load_or_explain(path: Path):
    """The validated config, or every error on stderr and a UsageError (exit 2)."""
    from edge.config import load_config
    from runtime.configfile import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        raise config_usage_error(exc) from None


def check_config(args) -> int:
    config = load_or_explain(args.config)
    from edge.trust import TrustError, load_configured_trust

    try:
        load_configured_trust(config.trust)
    except TrustError as exc:
        raise UsageError(str(exc)) from None
    print(f"config {config.path}: ok")
    return 0
