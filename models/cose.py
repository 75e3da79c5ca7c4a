"""COSE_Sign1 (RFC 9052) as CP1 and HC1 use it: ES256 (raw r||s) and, for HC1, PS256.

Parsing is strict because the input is untrusted: the exact CBOR types of every part are
checked, trailing bytes are refused, and the protected header is kept as the bytes that
were signed (re-encoding it would verify something other than what the signer signed).
A CWT tag (61) around the COSE_Sign1 tag is accepted (RFC 8392 allows it; the EU test
vector common/CO28 carries both).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

COSE_SIGN1_TAG = 18
CWT_TAG = 61
HEADER_ALG = 1
HEADER_KID = 4
ALG_ES256 = -7
ALG_PS256 = -37
_ES256_HALF = 32
_PS256_SALT = 32                # hcert spec: salt length = digest length (SHA-256)


class CoseError(ValueError):
    """The bytes are not a well-formed COSE_Sign1 message."""


@dataclass(frozen=True)
class Sign1:
    protected: bytes            # the protected header exactly as signed
    protected_map: dict
    unprotected: dict
    payload: bytes
    signature: bytes

    def header(self, label: int):
        """A header parameter; the protected bucket wins over the unprotected one."""
        if label in self.protected_map:
            return self.protected_map[label]
        return self.unprotected.get(label)

    @property
    def alg(self):
        return self.protected_map.get(HEADER_ALG)

    @property
    def any_alg(self):
        """The alg from either bucket, protected winning (HC1 verifiers must accept both)."""
        return self.header(HEADER_ALG)

    @property
    def kid(self) -> bytes | None:
        kid = self.header(HEADER_KID)
        return kid if isinstance(kid, bytes) else None


def loads_exact(data: bytes):
    """Decode one CBOR item that must span all of `data`."""
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises many types on hostile input
        raise CoseError(f"invalid CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise CoseError("trailing bytes after the CBOR item")
    return value


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _raw_signature(key, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_ES256_HALF, "big") + s.to_bytes(_ES256_HALF, "big")


def encode_sign1(key, payload: bytes, kid: bytes, *, kid_protected: bool = True,
                 tagged: bool = True) -> bytes:
    """Sign `payload` with an ES256 private key into a COSE_Sign1 message."""
    header = {HEADER_ALG: ALG_ES256}
    unprotected = {}
    (header if kid_protected else unprotected)[HEADER_KID] = kid
    protected = cbor2.dumps(header)
    signature = _raw_signature(key, sig_structure(protected, payload))
    message = [protected, unprotected, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, message) if tagged else message)


def parse_sign1(data: bytes) -> Sign1:
    """Parse a tagged (18) or untagged COSE_Sign1; raises CoseError on any deviation."""
    item = loads_exact(data)
    if isinstance(item, cbor2.CBORTag) and item.tag == CWT_TAG:
        item = item.value       # a CWT tag must wrap the tagged message: it names no type
        if not isinstance(item, cbor2.CBORTag):
            raise CoseError("CWT tag 61 around an untagged message")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise CoseError(f"CBOR tag {item.tag}, expected {COSE_SIGN1_TAG}")
        item = item.value
    # cbor2 decodes a tagged array as a tuple and its maps as frozendicts
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise CoseError("COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = item
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        raise CoseError("protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping):
        raise CoseError("unprotected header must be a map")
    protected_map = loads_exact(protected) if protected else {}
    if not isinstance(protected_map, Mapping):
        raise CoseError("protected header must wrap a map")
    return Sign1(protected, dict(protected_map), dict(unprotected), payload, signature)


def verify_es256(message: Sign1, public_key) -> bool:
    """True when the raw r||s signature verifies under the P-256 public key."""
    if len(message.signature) != 2 * _ES256_HALF or not isinstance(
            public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        return False
    r = int.from_bytes(message.signature[:_ES256_HALF], "big")
    s = int.from_bytes(message.signature[_ES256_HALF:], "big")
    signed = sig_structure(message.protected, message.payload)
    try:
        public_key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_ps256(message: Sign1, public_key) -> bool:
    """True when the RSASSA-PSS (SHA-256, MGF1 SHA-256, 32-byte salt) signature verifies."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    if len(message.signature) != (public_key.key_size + 7) // 8:
        return False
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_PS256_SALT)
    signed = sig_structure(message.protected, message.payload)
    try:
        public_key.verify(message.signature, signed, pss, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


_VERIFIERS = {ALG_ES256: verify_es256, ALG_PS256: verify_ps256}


def verify_signature(message: Sign1, public_key, alg: int) -> bool:
    """Verify under `alg` (ES256 or PS256 only); any other algorithm never verifies."""
    check = _VERIFIERS.get(alg) if type(alg) is int else None
    return bool(check) and check(message, public_key)
