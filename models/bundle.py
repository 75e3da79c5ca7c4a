"""Signed bundles (PROTOCOL.md section 3): trust list, revocations, policy, roster.

    {"schema": "checkpoint.bundle/1", "kind": ..., "kid": b64(root kid),
     "payload": b64(payload JSON bytes), "sig": b64(raw r||s, ES256 over those bytes)}

The signature covers the payload bytes as transmitted, so nothing is re-serialised before
it is verified. An envelope comes from a hostile channel: it is read at a bounded cost
(models/safejson.py: at most MAX_ENVELOPE_BYTES, one level deep) and every way it can be
wrong, including a payload nested too deep, is a BundleError naming the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from models import safejson
from models.keys import kid_b64, kid_of
from models.timefmt import parse_rfc3339

SCHEMA = "checkpoint.bundle/1"
KINDS = ("trustlist", "revocations", "policy", "roster")
_HALF = 32
# A trust list of a few thousand certificates fits; the broker refuses above 1 MiB anyway.
MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
MAX_PAYLOAD_DEPTH = 8       # roster: {subjects: [{cards: [...]}]} is 3


class BundleError(ValueError):
    """A bundle that must not be used; the message says why."""


@dataclass(frozen=True)
class Bundle:
    kind: str
    payload: dict[str, Any]
    version: int
    issued: float           # epoch seconds
    next_update: float      # epoch seconds; past it the device flags trust_stale


def sign_bundle(kind: str, payload: dict[str, Any], root_private_key) -> dict[str, str]:
    """The signed envelope for `payload`; refuses a payload a device would refuse."""
    _check_kind(kind)
    _metadata(payload)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    r, s = decode_dss_signature(root_private_key.sign(data, ec.ECDSA(hashes.SHA256())))
    return {"schema": SCHEMA, "kind": kind, "kid": kid_b64(kid_of(root_private_key.public_key())),
            "payload": _b64(data), "sig": _b64(r.to_bytes(_HALF, "big") + s.to_bytes(_HALF, "big"))}


def open_bundle(envelope: bytes | str | dict, roots: dict[bytes, Any],
                expect_kind: str | None = None) -> Bundle:
    """Verify an envelope against the pinned root keys and return its payload."""
    envelope = _envelope(envelope)
    if envelope.get("schema") != SCHEMA:
        raise BundleError(f"schema {_show(envelope.get('schema'))}, expected {SCHEMA!r}")
    kind = envelope.get("kind")
    _check_kind(kind)
    if expect_kind is not None and kind != expect_kind:
        raise BundleError(f"kind {_show(kind)}, expected {expect_kind!r}")
    kid = _unb64(envelope.get("kid"), "kid")
    if kid not in roots:
        raise BundleError(f"signed by unknown root kid {_show(envelope.get('kid'))}")
    data = _unb64(envelope.get("payload"), "payload")
    if not _verify(roots[kid], data, _unb64(envelope.get("sig"), "sig")):
        raise BundleError("bad signature")
    try:
        payload = safejson.loads(data, max_bytes=MAX_ENVELOPE_BYTES,
                                 max_depth=MAX_PAYLOAD_DEPTH)
    except safejson.JsonRefused as exc:
        raise BundleError(f"payload is not UTF-8 JSON of at most {MAX_PAYLOAD_DEPTH} "
                          f"levels ({exc.reason})") from None
    if not isinstance(payload, dict):
        raise BundleError("payload is not a JSON object")
    version, issued, next_update = _metadata(payload)
    return Bundle(kind, payload, version, issued, next_update)


def _envelope(envelope) -> dict:
    if isinstance(envelope, bytes | bytearray | str):
        try:
            envelope = safejson.loads(envelope, max_bytes=MAX_ENVELOPE_BYTES, max_depth=1)
        except safejson.JsonRefused as exc:
            raise BundleError(f"not a JSON bundle envelope ({exc.reason})") from None
    if not isinstance(envelope, dict):
        raise BundleError("bundle envelope is not a JSON object")
    return envelope


def _check_kind(kind) -> None:
    if kind not in KINDS:
        raise BundleError(f"kind {_show(kind)}; allowed: {', '.join(KINDS)}")


def _metadata(payload: dict[str, Any]) -> tuple[int, float, float]:
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise BundleError("payload `version` missing or not a non-negative integer")
    return version, _time(payload, "issued"), _time(payload, "next_update")


def _time(payload: dict[str, Any], name: str) -> float:
    value = payload.get(name)
    if not isinstance(value, str):
        raise BundleError(f"payload `{name}` missing or not an RFC 3339 time")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise BundleError(f"payload `{name}`: {exc}") from None


def _verify(public_key, data: bytes, sig: bytes) -> bool:
    if len(sig) != 2 * _HALF or not isinstance(public_key, ec.EllipticCurvePublicKey):
        return False
    der = encode_dss_signature(int.from_bytes(sig[:_HALF], "big"),
                               int.from_bytes(sig[_HALF:], "big"))
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _show(value) -> str:
    """A value from the wire as an error may quote it: short, whatever was sent."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise BundleError(f"envelope `{name}` missing or not base64") from None
