"""Pass and trust tools: `keys new`, `issue`, `bundle sign` and `verify` (PROTOCOL.md 7).

`verify` judges passes on their own (no temperature, no device clock state) with the same
verifier and policy the gate uses, so a district can check what a gate would say.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from cli.common import UsageError, emit

DEFAULT_CONFIG = Path("config/checkpoint.toml")
DEFAULT_ISSUER = "CN-BJ-110105"
DEFAULT_LIFETIME_S = 120


def register(subparsers) -> None:
    keys = subparsers.add_parser("keys", help="signing keys")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    key_commands.required = True
    new = key_commands.add_parser("new", help="new ES256 key pair: DIR/key.pem, DIR/pub.pem")
    new.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="where the key pair goes: DIR/key.pem, DIR/pub.pem "
                          "(never overwritten)")
    new.set_defaults(func=keys_new)
    rotate = key_commands.add_parser(
        "rotate", help="new issuer key in a trust list payload; the old one ends after an "
                       "overlap (then: bundle sign)")
    rotate.add_argument("--trustlist", type=Path, required=True, metavar="JSON",
                        help="trust list payload, rewritten in place with the next version")
    rotate.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="where the new key pair goes: DIR/key.pem, DIR/pub.pem")
    rotate.add_argument("--iss", default=DEFAULT_ISSUER, metavar="ID",
                        help="issuer whose key is rotated")
    rotate.add_argument("--overlap", type=float, default=48, metavar="HOURS",
                        help="how long the old key stays valid")
    rotate.set_defaults(func=keys_rotate)

    issue = subparsers.add_parser("issue", help="issue a CP1 health pass (prints the QR text)")
    issue.add_argument("--key", type=Path, required=True, metavar="PEM",
                       help="the issuer's private key")
    issue.add_argument("--color", required=True, choices=("green", "yellow", "red"),
                       help="the pass's health color")
    issue.add_argument("--iss", default=DEFAULT_ISSUER, metavar="ID", help="issuer id")
    issue.add_argument("--subject", metavar="HEX", help="16-byte id as hex (default: random)")
    issue.add_argument("--lifetime", type=int, default=DEFAULT_LIFETIME_S, metavar="S",
                       help="seconds from now until the pass expires")
    issue.add_argument("--tested", metavar="T", help="time of the last negative test (RFC 3339)")
    issue.add_argument("--png", type=Path, metavar="F", help="also render the QR code to F")
    issue.set_defaults(func=issue_pass)

    bundle = subparsers.add_parser("bundle", help="signed bundles")
    bundle_commands = bundle.add_subparsers(dest="bundle_command", metavar="ACTION")
    bundle_commands.required = True
    sign = bundle_commands.add_parser("sign", help="sign a JSON payload into a bundle")
    sign.add_argument("--kind", required=True,
                      choices=("trustlist", "revocations", "policy", "roster"),
                      help="what the payload is")
    sign.add_argument("--key", type=Path, required=True, metavar="PEM",
                      help="the signing (root) private key")
    sign.add_argument("--in", dest="source", type=Path, required=True, metavar="JSON",
                      help="the payload to sign")
    sign.add_argument("--out", type=Path, required=True, metavar="F",
                      help="where the signed bundle is written")
    sign.set_defaults(func=bundle_sign)

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


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror}") from None


def _private_key(path: Path):
    from models.keys import load_private_key

    try:
        return load_private_key(_read(path, "key"))
    except ValueError:
        raise UsageError(f"key {path}: not an unencrypted PEM private key") from None


def _time(text: str | float | int, what: str) -> float:
    from models.timefmt import parse_rfc3339

    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    try:
        return parse_rfc3339(str(text))
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def _key_targets(out: Path, command: str) -> tuple[Path, Path]:
    """DIR/key.pem and DIR/pub.pem, refused when either exists (never overwritten)."""
    targets = (out / "key.pem", out / "pub.pem")
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise UsageError(f"{command}: {', '.join(existing)} already exists; not overwritten")
    return targets


def _save_key_pair(key, targets: tuple[Path, Path], command: str) -> None:
    from models.keys import private_pem, public_pem

    try:
        targets[0].parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(targets[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem(key))
        targets[1].write_bytes(public_pem(key.public_key()))
    except OSError as exc:
        raise UsageError(f"{command} {targets[0].parent}: {exc.strerror}") from None


def keys_new(args) -> int:
    from models.keys import new_private_key

    targets = _key_targets(args.out, "keys new")
    _save_key_pair(new_private_key(), targets, "keys new")
    emit({"key": str(targets[0]), "pub": str(targets[1])})
    return 0


def keys_rotate(args) -> int:
    from models.keys import kid_b64, kid_of, new_private_key
    from models.rotation import rotate_trustlist
    from models.timefmt import rfc3339

    if not (math.isfinite(args.overlap) and args.overlap >= 0):
        raise UsageError("--overlap must be zero or more hours")
    targets = _key_targets(args.out, "keys rotate")
    payload = _json_object(args.trustlist)
    key, now = new_private_key(), time.time()
    try:
        rotated, retired = rotate_trustlist(payload, key.public_key(), iss=args.iss, now=now,
                                            overlap_s=args.overlap * 3600)
    except ValueError as exc:
        raise UsageError(f"--trustlist {args.trustlist}: {exc}") from None
    _save_key_pair(key, targets, "keys rotate")
    _write_json(args.trustlist, rotated)
    emit({"key": str(targets[0]), "pub": str(targets[1]),
          "kid": kid_b64(kid_of(key.public_key())), "retiring": retired,
          "retire_at": rfc3339(now + args.overlap * 3600), "version": rotated["version"]})
    return 0


def _json_object(path: Path) -> dict:
    try:
        payload = json.loads(_read(path, "payload"))
    except ValueError as exc:
        raise UsageError(f"payload {path}: not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise UsageError(f"payload {path}: expected a JSON object")
    return payload


def _write_json(path: Path, value: dict) -> None:
    try:
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None


def _subject(text: str | None) -> bytes:
    if text is None:
        return os.urandom(16)
    try:
        subject = bytes.fromhex(text)
    except ValueError:
        subject = b""
    if len(subject) != 16:
        raise UsageError(f"--subject {text!r}: expected 32 hex digits (16 bytes)")
    return subject


def issue_pass(args) -> int:
    from models.cp1 import issue_cp1

    if args.lifetime <= 0:
        raise UsageError("--lifetime must be a positive number of seconds")
    key = _private_key(args.key)
    tested = int(_time(args.tested, "--tested")) if args.tested else None
    now = int(time.time())
    text = issue_cp1(key, iss=args.iss, color=args.color, iat=now, exp=now + args.lifetime,
                     sub=_subject(args.subject), cti=os.urandom(16), tested_at=tested)
    if args.png:
        _render_png(text, args.png)
    print(text)
    return 0


def _render_png(text: str, path: Path) -> None:
    import segno

    try:
        segno.make_qr(text, error="m").save(str(path), scale=8, border=4)
    except OSError as exc:
        raise UsageError(f"--png {path}: {exc.strerror}") from None
    except ValueError as exc:   # a file name segno has no writer for: "Unknown file extension"
        raise UsageError(f"--png {path}: {exc}") from None


def bundle_sign(args) -> int:
    from models.bundle import BundleError, sign_bundle

    key = _private_key(args.key)
    payload = _json_object(args.source)
    try:
        envelope = sign_bundle(args.kind, payload, key)
    except BundleError as exc:
        raise UsageError(f"payload {args.source}: {exc}") from None
    try:
        args.out.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out {args.out}: {exc.strerror}") from None
    return 0


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
            at = _time(item["at"], "at") if item.get("at") is not None else default_at
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
    now = _time(args.at, "--at") if args.at else time.time()
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
