"""Offline verification of a health pass: every step of PROTOCOL.md section 1, in order.

The first step that fails names the reason. The input is whatever a camera read off a
stranger's phone, so nothing here may raise: every failure becomes a reason code, and
claims are reported as far as they could be read (a forged pass still shows its issuer).

A key is looked up by kid and the pass's `iss`: the trust list binds each key to an
issuer, so a key listed for one issuer does not vouch for passes claiming another.

An `alg` other than ES256 is reported as `malformed`: CP1 fixes the protected header to
{1: -7}, so another algorithm is a pass that does not follow the format, not a signature
that failed to verify.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

from models import cose, cp1
from models import reasons as R
from models.base45 import b45decode
from models.keys import kid_b64
from models.passes import Verdict
from models.trust import TrustStore

MAX_TEXT_CHARS = 8192           # longer than any QR code can hold
MAX_INFLATED_BYTES = 4096       # refuse zlib bombs
CLOCK_SKEW_S = 30
HC1_PREFIX = "HC1:"


class _Failed(Exception):
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict


def verify_pass(text: str, trust: TrustStore, now: float, max_lifetime_s: int = 300) -> Verdict:
    """Judge one scanned text: authentic, current and not revoked, or the first reason not."""
    try:
        return _verify(text, trust, now, max_lifetime_s)
    except _Failed as failed:
        return failed.verdict
    except Exception:  # a bug must not crash the gate: the pass is refused instead
        return Verdict((R.MALFORMED,), format=None)


def _fail(verdict: Verdict, reason: str) -> _Failed:
    return _Failed(replace(verdict, reasons=(reason,)))


def _verify(text, trust: TrustStore, now: float, max_lifetime_s: int) -> Verdict:
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise _fail(Verdict(), R.UNKNOWN_FORMAT)
    text = text.strip("\r\n")
    if text.startswith(HC1_PREFIX):  # EU DCC: not supported yet
        raise _fail(Verdict(format="HC1"), R.UNKNOWN_FORMAT)
    if not text.startswith(cp1.PREFIX):
        raise _fail(Verdict(), R.UNKNOWN_FORMAT)
    verdict = Verdict(format="CP1")
    message = _message(text[len(cp1.PREFIX):], verdict)
    verdict = replace(verdict, kid=kid_b64(message.kid))
    verdict, claims = _claims(message, verdict)
    _authentic(message, trust, now, verdict)
    if claims.iat > now + CLOCK_SKEW_S:
        raise _fail(verdict, R.NOT_YET_VALID)
    if now > claims.exp + CLOCK_SKEW_S:
        raise _fail(verdict, R.PASS_EXPIRED)
    if claims.exp - claims.iat > max_lifetime_s:
        raise _fail(verdict, R.LIFETIME_TOO_LONG)
    if trust.is_revoked(verdict.cti, verdict.subject):
        raise _fail(verdict, R.REVOKED)
    return verdict


def _message(body: str, verdict: Verdict) -> cose.Sign1:
    """Base45, bounded inflate and strict COSE parsing; any deviation is `malformed`."""
    if len(body) > MAX_TEXT_CHARS:
        raise _fail(verdict, R.MALFORMED)
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(b45decode(body), MAX_INFLATED_BYTES + 1)
        complete = inflater.eof and not inflater.unused_data
        if len(data) > MAX_INFLATED_BYTES or not complete:
            raise ValueError("zlib stream too large, truncated or followed by data")
        message = cose.parse_sign1(data)
    except (ValueError, zlib.error):
        raise _fail(verdict, R.MALFORMED) from None
    if message.alg != cose.ALG_ES256 or message.kid is None:
        raise _fail(verdict, R.MALFORMED)
    return message


def _claims(message: cose.Sign1, verdict: Verdict) -> tuple[Verdict, cp1.Claims]:
    try:
        claims = cp1.parse_claims(message.payload)
    except ValueError:
        raise _fail(verdict, R.MALFORMED) from None
    verdict = replace(
        verdict, issuer=claims.iss, subject=claims.sub.hex(), color=claims.color,
        iat=claims.iat, exp=claims.exp, tested_at=claims.tested_at, cti=claims.cti.hex(),
        unit=claims.unit, name=claims.name)
    return verdict, claims


def _authentic(message: cose.Sign1, trust: TrustStore, now: float, verdict: Verdict) -> None:
    # A key is trusted for the issuer the trust list names, not for any issuer: district A's
    # key signing a pass that claims district B is an unknown key for that pass.
    candidates = [key for key in trust.keys.get(message.kid, ())
                  if key.iss in (None, verdict.issuer)]
    if not candidates:
        raise _fail(verdict, R.UNKNOWN_KEY)
    current = [key for key in candidates if key.valid_at(now)]
    if not current:
        raise _fail(verdict, R.KEY_EXPIRED)
    if not any(cose.verify_es256(message, key.public_key) for key in current):
        raise _fail(verdict, R.BAD_SIGNATURE)
