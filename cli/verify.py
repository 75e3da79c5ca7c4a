"""`checkpoint verify`: judge health passes on their own (docs/cli.md).

No temperature and no device clock state: the same verifier and policy the gate uses,
so a district can check what a gate would say.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cli.common import UsageError, emit, parse_time

DEFAULT_CONFIG = Path("config/checkpoint.toml")


def register(subparsers) -> None:
    verify = subparsers.add_parser("verify", help="judge health passes on their own")
    verify.add_argument("--config", type=Path, metavar="F",
                        help=f"the agent's config, for its [trust] files "
                             f"(default: {DEFAULT_CONFIG}, unless --trust is given)")
    verify.add_argument("--trust", type=Path, metavar="B", help="signed trust list")
    verify.add_argument("--revocations", type=Path, metavar="B",
                        help="signed revocation list, with --trust (default: none)")
    verify.add_argument("--policy", type=Path, metavar="B",
                        help="signed policy, with --trust (default: the default policy)")
    verify.add_argument("--root", type=Path, action="append", metavar="PEM",
                        help="pinned root public key (repeatable)")
    verify.add_argument("--at", metavar="T", help="judge at time T, RFC 3339 (default: now)")
    verify.add_argument("text", metavar="TEXT|-", help="pass text, or - for one per line on stdin")
    verify.set_defaults(func=verify_passes)


def _trust(args):
    from edge.trust import TrustError, load_configured_trust, load_trust

    if args.trust or args.root:
        if args.config:
            raise UsageError("give either --config or --trust/--root, not both")
        if not (args.trust and args.root):
            raise UsageError("--trust B needs --root PEM (and --root needs --trust)")
    elif args.revocations or args.policy:
        raise UsageError("--revocations and --policy go with --trust and --root")
    try:
        if args.trust:
            return load_trust(args.root, args.trust, args.revocations, args.policy)
        from cli.config import load_or_explain
        return load_configured_trust(load_or_explain(args.config or DEFAULT_CONFIG).trust)
    except TrustError as exc:
        raise UsageError(str(exc)) from None


def _stdin_lines():
    """stdin's lines as text, decoded here line by line: a line that is not UTF-8 comes as
    None (the locale's decoder would end the command with a traceback, or pass it on)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:      # a text stream without bytes underneath (tests use StringIO)
        yield from sys.stdin
        return
    for raw in buffer:
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield None


def _stdin_items(default_at: float):
    """(line number, text, time) per non-empty stdin line; a bad line yields an error."""
    for number, line in enumerate(_stdin_lines(), start=1):
        if line is None:
            yield number, UsageError("not UTF-8 text"), default_at
            continue
        line = line.strip("\r\n")
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            yield number, line, default_at
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('expected {"text": ..., "at": ...}')
            at = parse_time(item["at"], "at") if item.get("at") is not None else default_at
        except (ValueError, UsageError) as exc:
            yield number, exc, default_at
            continue
        yield number, item["text"], at


def _judged(text: str, state, now: float) -> dict:
    from edge.policy import judge_pass
    from models.timefmt import rfc3339
    from models.verify import verify_pass

    policy = state.policy
    verdict = verify_pass(text, state.store, now, policy.max_pass_lifetime_s)
    decision = judge_pass(verdict, policy, now)
    return {"decision": decision.decision, "reasons": list(decision.reasons),
            "format": verdict.format, "issuer": verdict.issuer, "kid": verdict.kid,
            "subject": verdict.subject, "color": verdict.color,
            "exp": None if verdict.exp is None else rfc3339(verdict.exp),
            "tested_at": None if verdict.tested_at is None else rfc3339(verdict.tested_at)}


def verify_passes(args) -> int:
    now = parse_time(args.at, "--at") if args.at else time.time()
    state = _trust(args)
    if args.text != "-":
        result = _judged(args.text, state, now)
        emit(result)
        return 0 if result["decision"] == "pass" else 1
    all_pass, input_error = True, False
    for number, text, at in _stdin_items(now):
        if isinstance(text, Exception):
            print(f"checkpoint: stdin line {number}: {text}", file=sys.stderr)
            input_error = True
            continue
        result = _judged(text, state, at)
        emit(result)
        all_pass = all_pass and result["decision"] == "pass"
    return 2 if input_error else (0 if all_pass else 1)
