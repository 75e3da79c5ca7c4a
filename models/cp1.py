"""The CP1 community health pass (PROTOCOL.md section 1): issuing and reading its claims.

    QR text = "CP1:" + Base45(zlib(COSE_Sign1(CWT claims)))
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cbor2

from models import cose
from models.base45 import b45encode
from models.keys import kid_of

PREFIX = "CP1:"
COLORS = ("green", "yellow", "red")
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI = 1, 4, 6, 7
CLAIM_HC = -70000
ID_LEN = 16                     # bytes of cti and sub
_MAX_EPOCH = 2 ** 33            # year 2242: larger "times" are garbage, not dates


@dataclass(frozen=True)
class Claims:
    iss: str
    iat: int
    exp: int
    cti: bytes
    sub: bytes
    color: str
    name: str | None = None
    tested_at: int | None = None
    unit: str | None = None


def issue_cp1(key, *, iss: str, color: str, iat: int, exp: int, sub: bytes, cti: bytes,
              kid: bytes | None = None, tested_at: int | None = None, name: str | None = None,
              unit: str | None = None) -> str:
    """Sign a pass with an ES256 private key and return its QR text."""
    if color not in COLORS:
        raise ValueError(f"color {color!r}; allowed: {', '.join(COLORS)}")
    hc: dict = {"sub": sub, "col": color}
    optional = {"nm": name, "nat": tested_at, "unit": unit}
    hc.update({k: v for k, v in optional.items() if v is not None})
    claims = {CLAIM_ISS: iss, CLAIM_IAT: iat, CLAIM_EXP: exp, CLAIM_CTI: cti, CLAIM_HC: hc}
    kid = kid_of(key.public_key()) if kid is None else kid
    message = cose.encode_sign1(key, cbor2.dumps(claims), kid)
    return PREFIX + b45encode(zlib.compress(message, 9))


def parse_claims(payload: bytes) -> Claims:
    """The CWT claims of a CP1 payload; ValueError names the first claim of the wrong type."""
    claims = cose.loads_exact(payload)
    if not isinstance(claims, dict):
        raise ValueError("payload is not a CBOR map")
    hc = claims.get(CLAIM_HC)
    if not isinstance(hc, dict):
        raise ValueError("claim -70000 (hc) missing or not a map")
    color = hc.get("col")
    if color not in COLORS:
        raise ValueError(f"hc col {color!r}; allowed: {', '.join(COLORS)}")
    return Claims(
        iss=_typed(claims.get(CLAIM_ISS), str, "iss"),
        iat=_epoch(claims.get(CLAIM_IAT), "iat"),
        exp=_epoch(claims.get(CLAIM_EXP), "exp"),
        cti=_id(claims.get(CLAIM_CTI), "cti"),
        sub=_id(hc.get("sub"), "sub"),
        color=color,
        name=_optional(hc.get("nm"), str, "nm"),
        tested_at=None if hc.get("nat") is None else _epoch(hc["nat"], "nat"),
        unit=_optional(hc.get("unit"), str, "unit"),
    )


def _typed(value, kind: type, name: str):
    if not isinstance(value, kind):
        raise ValueError(f"claim {name} missing or not {kind.__name__}")
    return value


def _optional(value, kind: type, name: str):
    return None if value is None else _typed(value, kind, name)


def _epoch(value, name: str) -> int:
    # bool is an int subclass in Python, but CBOR true is not a time
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_EPOCH:
        raise ValueError(f"claim {name} missing or not an epoch time in seconds")
    return value


def _id(value, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != ID_LEN:
        raise ValueError(f"claim {name} missing or not {ID_LEN} bytes")
    return value
