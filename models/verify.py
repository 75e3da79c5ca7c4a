"""Offline verification of a health pass: every step of PROTOCOL.md section 1, in order.

The first step that fails names the reason. The input is whatever a camera read off a
stranger's phone, so nothing here may raise: every failure becomes a reason code, and
claims are reported as far as they could be read (a forged pass still shows its issuer).

CP1 and HC1 share the layers (prefix, Base45, bounded zlib, strict COSE_Sign1), the kid
lookup and the signature check; they differ in the allowed algorithms, the claims, and
HC1's signer-certificate rules (key usage, `exp` within the DSC's validity).

A key is looked up by kid and the pass's `iss`: the trust list binds each key to an
issuer, so a key listed for one issuer does not vouch for passes claiming another.

An algorithm outside the format's list is `malformed`: CP1 fixes the protected header to
{1: -7}, so another algorithm is a pass that does not follow the format, not a signature
that failed to verify.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

from models import cose, cp1, hc1
from models import reasons as R
from models.base45 import b45decode
from models.keys import kid_b64
from models.passes import Verdict
from models.trust import TrustKey, TrustStore

MAX_TEXT_CHARS = 8192           # longer than any QR code can hold
_MAX_INPUT_BYTES = 4 * (MAX_TEXT_CHARS + 8)     # UTF-8: at most 4 bytes per character
MAX_INFLATED_BYTES = 4096       # CP1: refuse zlib bombs
CLOCK_SKEW_S = 30


@dataclass(frozen=True)
class Format:
    name: str
    prefix: str
    max_inflated: int
    algs: tuple[int, ...]
    alg_protected_only: bool    # HC1 verifiers must also take an unprotected alg


FORMATS = (Format("CP1", cp1.PREFIX, MAX_INFLATED_BYTES, (cose.ALG_ES256,), True),
           Format("HC1", hc1.PREFIX, hc1.MAX_INFLATED_BYTES, hc1.ALGS, False))


class _Failed(Exception):
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict


def verify_pass(text: str, trust: TrustStore, now: float, max_lifetime_s: int = 300) -> Verdict:
    """Judge one scanned text: authentic, current and not revoked, or the first reason not."""
    try:
        return judge(text, trust, now, max_lifetime_s)
    except Exception:  # a bug must not crash the gate: the pass is refused instead
        return Verdict((R.MALFORMED,), format=None)


def _fail(verdict: Verdict, reason: str) -> _Failed:
    return _Failed(replace(verdict, reasons=(reason,)))


def split_prefix(text) -> tuple[Format, str]:
    """The format and the Base45 body; ValueError for text that is no known pass."""
    if isinstance(text, bytes | bytearray):
        # past this many bytes the text is over the length cap however it decodes, so the
        # rest need not be decoded at all (a megabyte of noise is refused in microseconds)
        text = bytes(text[:_MAX_INPUT_BYTES]).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise ValueError("not text")
    text = text.strip("\r\n")
    for fmt in FORMATS:
        if text.startswith(fmt.prefix):
            return fmt, text[len(fmt.prefix):]
    raise ValueError("no known prefix")


def inflate(data: bytes, limit: int) -> bytes:
    """One complete zlib stream of at most `limit` bytes, never inflating more than that."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"zlib: {exc}") from None
    if len(out) > limit or not inflater.eof or inflater.unused_data:
        raise ValueError("zlib stream too large, truncated or followed by data")
    return out


def open_message(body: str, fmt: Format) -> cose.Sign1:
    """Base45, bounded inflate and strict COSE parsing; ValueError on any deviation."""
    if len(body) > MAX_TEXT_CHARS:
        raise ValueError(f"longer than {MAX_TEXT_CHARS} characters")
    message = cose.parse_sign1(inflate(b45decode(body), fmt.max_inflated))
    check_header(message, fmt)
    return message


def check_header(message: cose.Sign1, fmt: Format) -> None:
    """An allowed alg (CP1: in the protected header) and a byte-string kid, or ValueError."""
    alg = message.alg if fmt.alg_protected_only else message.any_alg
    if type(alg) is not int or alg not in fmt.algs:
        raise ValueError(f"alg {alg!r} not allowed for {fmt.name}")
    if message.kid is None:
        raise ValueError("no kid")


def candidate_keys(message: cose.Sign1, trust: TrustStore, issuer: str | None) -> list[TrustKey]:
    # A key is trusted for the issuer the trust list names, not for any issuer: district A's
    # key signing a pass that claims district B is an unknown key for that pass.
    return [key for key in trust.keys.get(message.kid, ()) if key.iss in (None, issuer)]


def signed_by(message: cose.Sign1, keys: list[TrustKey]) -> TrustKey | None:
    """The first key (of those sharing the kid) whose signature verifies, if any."""
    alg = message.any_alg
    return next((key for key in keys
                 if cose.verify_signature(message, key.public_key, alg)), None)


def judge(text, trust: TrustStore, now: float, max_lifetime_s: int = 300) -> Verdict:
    """verify_pass without its safety net: an exception escaping here is a bug (the fuzzer
    and the property tests call this to find them)."""
    try:
        return _verify(text, trust, now, max_lifetime_s)
    except _Failed as failed:
        return failed.verdict


def _verify(text, trust: TrustStore, now: float, max_lifetime_s: int) -> Verdict:
    try:
        fmt, body = split_prefix(text)
    except ValueError:
        raise _fail(Verdict(), R.UNKNOWN_FORMAT) from None
    verdict = Verdict(format=fmt.name)
    try:
        message = open_message(body, fmt)
    except ValueError:
        raise _fail(verdict, R.MALFORMED) from None
    verdict = replace(verdict, kid=kid_b64(message.kid))
    if fmt.name == "CP1":
        verdict, claims = _cp1_claims(message, verdict)
    else:
        verdict, claims = _hc1_claims(message, verdict, trust)
    signer = _authentic(message, trust, now, verdict)
    if fmt.name == "HC1":
        _hc1_signer_rules(signer, claims, verdict)
    _time_rules(claims, now, verdict, max_lifetime_s if fmt.name == "CP1" else None)
    revocation_id = verdict.cti if fmt.name == "CP1" else claims.uvci_hash
    if trust.is_revoked(revocation_id, verdict.subject):
        raise _fail(verdict, R.REVOKED)
    return verdict


def _cp1_claims(message: cose.Sign1, verdict: Verdict) -> tuple[Verdict, cp1.Claims]:
    try:
        claims = cp1.parse_claims(message.payload)
    except ValueError:
        raise _fail(verdict, R.MALFORMED) from None
    verdict = replace(
        verdict, issuer=claims.iss, subject=claims.sub.hex(), color=claims.color,
        iat=claims.iat, exp=claims.exp, tested_at=claims.tested_at, cti=claims.cti.hex(),
        unit=claims.unit, name=claims.name)
    return verdict, claims


def _hc1_claims(message: cose.Sign1, verdict: Verdict,
                trust: TrustStore) -> tuple[Verdict, hc1.Claims]:
    try:
        claims = hc1.parse_claims(message.payload)
    except ValueError:
        raise _fail(verdict, R.MALFORMED) from None
    # no cti: a DCC is presented again and again by design, so replay does not apply
    verdict = replace(
        verdict, issuer=claims.iss, subject=claims.subject(trust.subject_key),
        color=claims.color, iat=claims.iat, exp=claims.exp, tested_at=claims.tested_at)
    return verdict, claims


def _authentic(message: cose.Sign1, trust: TrustStore, now: float,
               verdict: Verdict) -> TrustKey:
    candidates = candidate_keys(message, trust, verdict.issuer)
    if not candidates:
        raise _fail(verdict, R.UNKNOWN_KEY)
    current = [key for key in candidates if key.valid_at(now)]
    if not current:
        raise _fail(verdict, R.KEY_EXPIRED)
    signer = signed_by(message, current)
    if signer is None:
        raise _fail(verdict, R.BAD_SIGNATURE)
    return signer


def _hc1_signer_rules(signer: TrustKey, claims: hc1.Claims, verdict: Verdict) -> None:
    if not hc1.usage_allows(signer, claims.kind):
        raise _fail(verdict, R.WRONG_KEY_USAGE)
    if not hc1.within_key_validity(signer, claims):
        raise _fail(verdict, R.KEY_EXPIRED)


def _time_rules(claims, now: float, verdict: Verdict, max_lifetime_s: int | None) -> None:
    if claims.iat > now + CLOCK_SKEW_S:
        raise _fail(verdict, R.NOT_YET_VALID)
    if now > claims.exp + CLOCK_SKEW_S:
        raise _fail(verdict, R.PASS_EXPIRED)
    # a DCC lives months by design; the lifetime limit is CP1's (minutes)
    if max_lifetime_s is not None and claims.exp - claims.iat > max_lifetime_s:
        raise _fail(verdict, R.LIFETIME_TOO_LONG)
