"""The EU Digital COVID Certificate (`HC1:`, ehn-dcc-development/eu-dcc-hcert-spec).

    QR text = "HC1:" + Base45(zlib(COSE_Sign1(CWT claims, hcert in claim -260/1)))

Only what a gate needs is read from the certificate: its type (vaccination, test,
recovery), its identifier (UVCI) for revocation, the test's sample time and result. The
person's name and birth date are read only to form a keyed hash (HMAC-SHA256 under a
per-district key) and go no further: they never reach a record.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field

from models import cose
from models.timefmt import parse_rfc3339
from models.trust import EKU_UNREADABLE, TrustKey

PREFIX = "HC1:"
MAX_INFLATED_BYTES = 65536
ALGS = (cose.ALG_ES256, cose.ALG_PS256)
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
HCERT_V1 = 1
KINDS = ("v", "t", "r")                     # vaccination, test, recovery
TEST_DETECTED = "260373001"                 # SNOMED CT "Detected": a positive test
ID_LEN = 16
_MAX_EPOCH = 2 ** 33

# Extended key usages a DSC may carry to limit what it signs (hcert spec, "Key usage
# policy"). Some issuers used the mistyped arc with ".0." inserted; both are honoured.
_USAGE_ARCS = ("1.3.6.1.4.1.1847.2021.1", "1.3.6.1.4.1.0.1847.2021.1")
USAGE_OIDS = {kind: frozenset(f"{arc}.{n}" for arc in _USAGE_ARCS)
              for kind, n in (("t", 1), ("v", 2), ("r", 3))}
_ALL_USAGE_OIDS = frozenset().union(*USAGE_OIDS.values())


@dataclass(frozen=True)
class Claims:
    iss: str | None
    iat: int
    exp: int
    kind: str                   # "v" / "t" / "r"
    uvci: str                   # unique certificate identifier (`ci`)
    person: str = field(repr=False)     # name and birth date: HMAC input only, never shown
    tested_at: int | None = None
    detected: bool = False

    @property
    def color(self) -> str:
        """A valid DCC is a green pass for the gate, except a positive test, which is red."""
        return "red" if self.detected else "green"

    @property
    def uvci_hash(self) -> str:
        """Revocation key: the first 16 bytes of SHA-256 over the UVCI, as hex."""
        return hashlib.sha256(self.uvci.encode("utf-8")).digest()[:ID_LEN].hex()

    def subject(self, key: bytes | None) -> str | None:
        """The keyed pseudonymous subject id, or None when the district set no key."""
        if key is None:
            return None
        digest = hmac.new(key, self.person.encode("utf-8"), hashlib.sha256).digest()
        return digest[:ID_LEN].hex()


def parse_claims(payload: bytes) -> Claims:
    """The CWT claims of an HC1 payload; ValueError names the first claim that is wrong."""
    claims = cose.loads_exact(payload)
    if not isinstance(claims, dict):
        raise ValueError("payload is not a CBOR map")
    hcert = claims.get(CLAIM_HCERT)
    dcc = hcert.get(HCERT_V1) if isinstance(hcert, dict) else None
    if not isinstance(dcc, dict):
        raise ValueError("claim -260/1 (hcert) missing or not a map")
    iss = claims.get(CLAIM_ISS)
    if iss is not None and not isinstance(iss, str):
        raise ValueError("claim iss is not text")
    kind, entry = _certificate(dcc)
    return Claims(
        iss=iss, iat=_epoch(claims.get(CLAIM_IAT), "iat"),
        exp=_epoch(claims.get(CLAIM_EXP), "exp"), kind=kind,
        uvci=_text(entry.get("ci"), "ci"), person=_person(dcc),
        tested_at=_sample_time(entry) if kind == "t" else None,
        detected=kind == "t" and entry.get("tr") == TEST_DETECTED)


def _certificate(dcc: dict) -> tuple[str, dict]:
    # Early issuers wrote empty lists for the absent types and several vaccinations in one
    # certificate (schema 1.0); the last entry is the latest.
    present = [kind for kind in KINDS if dcc.get(kind)]
    if len(present) != 1:
        raise ValueError("hcert must hold entries of exactly one of v, t, r")
    entries = dcc[present[0]]
    if not isinstance(entries, list | tuple) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"hcert {present[0]} must be a list of maps")
    return present[0], entries[-1]


def _person(dcc: dict) -> str:
    name = dcc.get("nam")
    if not isinstance(name, dict):
        raise ValueError("hcert nam missing or not a map")
    parts = [name.get("fnt"), name.get("gnt"), dcc.get("dob")]
    if any(part is not None and not isinstance(part, str) for part in parts):
        raise ValueError("hcert fnt, gnt and dob must be text")
    # The standardised (ICAO 9303) forms: the same person hashes alike on every issuer's DCC
    return "\x1f".join(part or "" for part in parts)


def _sample_time(entry: dict) -> int | None:
    value = entry.get("sc")
    try:
        return int(parse_rfc3339(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"hcert {name} missing or not text")
    return value


def _epoch(value, name: str) -> int:
    # CWT NumericDate may be an integer or a float (RFC 8392); bool is not a time
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"claim {name} missing or not a NumericDate")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"claim {name} is not finite")
    if not 0 <= value < _MAX_EPOCH:
        raise ValueError(f"claim {name} out of range")
    return int(value)


def usage_allows(key: TrustKey, kind: str) -> bool:
    """May this DSC sign this type? No health-certificate EKU at all: every type."""
    if key.eku is None:
        return True
    if key.eku == EKU_UNREADABLE:
        return False
    granted = key.eku & _ALL_USAGE_OIDS
    return not granted or bool(granted & USAGE_OIDS[kind])


def within_key_validity(key: TrustKey, claims: Claims) -> bool:
    """The certificate must not outlive its signer: `exp` no later than the DSC's notAfter."""
    return key.not_after is None or claims.exp <= key.not_after
