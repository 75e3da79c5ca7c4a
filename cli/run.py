"""`checkpoint run`: the agent, until Ctrl-C, SIGTERM or --duration."""

from __future__ import annotations

import faulthandler
import math
import signal
import sys
import threading
from pathlib import Path

from cli.common import UsageError
from cli.config import checked, load_or_explain


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run the agent")
    parser.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                        metavar="F", help="the agent's config file")
    parser.add_argument("--simulate", action="store_true",
                        help="replace the hardware drivers with their simulated twins")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds (default: at Ctrl-C or SIGTERM)")
    parser.add_argument("--db", type=Path, metavar="F",
                        help="SQLite file for the records (default: [store] path of --config)")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Exit 0 after a clean stop, 1 when a part of the agent died (status says
    `online: false`, alarm `worker_died`), 2 for a mistake in the config or the command."""
    from drivers.base import DriverError
    from edge.agent import Agent, AgentError, AgentFailed
    from edge.store import StoreError
    from edge.trust import TrustError
    from runtime import logs

    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError("--duration must be a positive number of seconds")
    config = load_or_explain(args.config)
    if args.simulate:
        config = config.simulated()
    if args.db:
        config = config.with_db(args.db)
    checked(config)     # what `config check` says: run refuses what the check refuses
    logs.setup()
    # A native crash (the decoder, OpenCV) would otherwise end the service with no word
    # on stderr, which systemd puts in the journal: this leaves every thread's stack.
    faulthandler.enable()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with Agent(config, console=True) as agent:
            agent.run(stop, args.duration)
    except AgentFailed as exc:
        print(f"checkpoint: run: {exc}; stopped so that it can be started afresh",
              file=sys.stderr)
        return 1
    except (AgentError, DriverError, StoreError, TrustError) as exc:
        raise UsageError(str(exc)) from None
    return 0
