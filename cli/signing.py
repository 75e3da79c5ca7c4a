"""Signing tools: `keys new`, `keys rotate`, `issue` and `bundle sign` (docs/cli.md).

What a district (or a test) uses to make keys, CP1 passes and signed bundles; `verify`
is in cli/verify.py.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from cli.common import UsageError, emit, parse_time, read_bytes

DEFAULT_ISSUER = "CN-BJ-110105"
DEFAULT_LIFETIME_S = 120


def register(subparsers) -> None:
    _register_keys(subparsers)
    _register_issue(subparsers)
    _register_bundle(subparsers)


def _register_keys(subparsers) -> None:
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


def _register_issue(subparsers) -> None:
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


def _register_bundle(subparsers) -> None:
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


def _private_key(path: Path):
    from models.keys import load_private_key

    try:
        return load_private_key(read_bytes(path, "key"))
    except ValueError:
        raise UsageError(f"key {path}: not an unencrypted PEM private key") from None


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
        payload = json.loads(read_bytes(path, "payload"))
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
    tested = int(parse_time(args.tested, "--tested")) if args.tested else None
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
