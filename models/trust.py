"""What a verifier trusts: issuer keys by kid, and revoked pass ids and subjects.

Built from the payloads of the signed trust list and revocation bundles (PROTOCOL.md
section 3) once their envelopes have been verified; nothing here reads files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field, replace

from models.der import DerError, extended_key_usage
from models.keys import kid_of, load_public_key
from models.timefmt import parse_rfc3339

EKU_UNREADABLE = frozenset({"unreadable"})
MIN_SUBJECT_KEY_LEN = 16


class TrustDataError(ValueError):
    """A trust list or revocation payload with a missing or malformed entry."""


@dataclass(frozen=True)
class TrustKey:
    kid: bytes
    iss: str | None
    public_key: object
    not_before: float | None = None     # epoch seconds; None: no bound
    not_after: float | None = None
    cert: bytes | None = None           # DER X.509 when the entry carried a certificate
    # Extended key usage OIDs of the certificate: None when it has none (or no certificate);
    # EKU_UNREADABLE when its extensions cannot be parsed, so no usage can be confirmed.
    eku: frozenset[str] | None = None

    def valid_at(self, now: float) -> bool:
        after_start = self.not_before is None or now >= self.not_before
        before_end = self.not_after is None or now <= self.not_after
        return after_start and before_end


@dataclass(frozen=True)
class TrustStore:
    keys: dict[bytes, tuple[TrustKey, ...]] = field(default_factory=dict)
    revoked_cti: frozenset[str] = frozenset()       # lowercase hex
    revoked_sub: frozenset[str] = frozenset()
    subject_key: bytes | None = None    # per-district HMAC key for HC1 subjects

    @classmethod
    def from_payloads(cls, trustlist: dict, revocations: dict | None = None) -> TrustStore:
        keys: dict[bytes, tuple[TrustKey, ...]] = {}
        for key in trust_keys(trustlist):
            keys[key.kid] = keys.get(key.kid, ()) + (key,)
        store = cls(keys)
        return store.with_revocations(revocations) if revocations is not None else store

    def with_revocations(self, revocations: dict) -> TrustStore:
        """The same keys under a new revocation list (which replaces the old one)."""
        cti, sub = revoked_ids(revocations)
        return replace(self, revoked_cti=frozenset(cti), revoked_sub=frozenset(sub))

    def is_revoked(self, cti_hex: str | None, sub_hex: str | None) -> bool:
        return cti_hex in self.revoked_cti or sub_hex in self.revoked_sub


def trust_keys(payload: dict) -> list[TrustKey]:
    entries = payload.get("keys")
    if not isinstance(entries, list):
        raise TrustDataError("trustlist: `keys` must be a list")
    return [_trust_key(entry, index) for index, entry in enumerate(entries)]


def _trust_key(entry, index: int) -> TrustKey:
    where = f"trustlist keys[{index}]"
    if not isinstance(entry, dict):
        raise TrustDataError(f"{where}: not an object")
    iss = entry.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise TrustDataError(f"{where}: iss must be text")
    not_before = _time(entry.get("not_before"), where, "not_before")
    not_after = _time(entry.get("not_after"), where, "not_after")
    listed = _b64(entry["kid"], where, "kid") if "kid" in entry else None
    if "spki" in entry:
        public_key = _spki_key(entry["spki"], where)
        if listed is not None and listed != kid_of(public_key):
            raise TrustDataError(f"{where}: kid does not match the spki key")
        return TrustKey(kid_of(public_key), iss, public_key, not_before, not_after)
    if "cert" not in entry:
        raise TrustDataError(f"{where}: needs `spki` or `cert`")
    cert = _b64(entry["cert"], where, "cert")
    public_key, cert_start, cert_end, eku = _cert_key(cert, where)
    # An EU DSC's kid is the first 8 bytes of SHA-256 over the certificate (hcert spec);
    # a listed kid wins, as gateways list one per certificate.
    kid = listed if listed is not None else hashlib.sha256(cert).digest()[:8]
    # the entry may narrow the certificate's validity, never widen it
    start = cert_start if not_before is None else max(not_before, cert_start)
    end = cert_end if not_after is None else min(not_after, cert_end)
    return TrustKey(kid, iss, public_key, start, end, cert, eku)


def _spki_key(value, where: str):
    try:
        return load_public_key(_b64(value, where, "spki"))
    except ValueError as exc:       # also a key on a curve OpenSSL lacks (models/keys)
        raise TrustDataError(f"{where}: spki is not a DER public key ({exc})") from None


def _cert_key(der: bytes, where: str):
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        cert = x509.load_der_x509_certificate(der)
        return (cert.public_key(), cert.not_valid_before_utc.timestamp(),
                cert.not_valid_after_utc.timestamp(), _eku(cert))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise TrustDataError(f"{where}: cert is not a DER X.509 certificate") from None


def _eku(cert) -> frozenset[str] | None:
    try:
        return extended_key_usage(cert.tbs_certificate_bytes)
    except DerError:
        return EKU_UNREADABLE


def _b64(value, where: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise TrustDataError(f"{where}: {name} is not base64") from None


def _time(value, where: str, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustDataError(f"{where}: {name} must be an RFC 3339 time or null")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise TrustDataError(f"{where}: {name}: {exc}") from None


def revoked_ids(payload: dict) -> tuple[list[str], list[str]]:
    """The revoked pass ids and subjects as lowercase hex."""
    return _hex_list(payload, "cti"), _hex_list(payload, "sub")


def _hex_list(payload: dict, name: str) -> list[str]:
    values = payload.get(name, [])
    if not isinstance(values, list):
        raise TrustDataError(f"revocations: `{name}` must be a list of hex strings")
    out = []
    for index, value in enumerate(values):
        try:
            out.append(bytes.fromhex(value).hex())
        except (TypeError, ValueError):
            raise TrustDataError(f"revocations {name}[{index}]: not hex") from None
    return out
