"""Key ids and key (de)serialisation on bytes: no file I/O here, callers read the files."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KID_LEN = 8


def spki_der(public_key) -> bytes:
    """DER SubjectPublicKeyInfo of a public key."""
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def kid_of(public_key) -> bytes:
    """First 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo (PROTOCOL.md section 1)."""
    return hashlib.sha256(spki_der(public_key)).digest()[:KID_LEN]


def kid_b64(kid: bytes) -> str:
    return base64.b64encode(kid).decode("ascii")


def new_private_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ES256 (P-256) signing key."""
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(data: bytes):
    """An unencrypted private key from PEM or DER bytes; ValueError when it is not one."""
    loader = (serialization.load_pem_private_key if data.lstrip().startswith(b"-----")
              else serialization.load_der_private_key)
    try:
        return loader(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not an unencrypted private key: {exc}") from None


def load_public_key(data: bytes):
    """A public key from PEM or DER SubjectPublicKeyInfo bytes (or a private key's PEM)."""
    text = data.lstrip()
    if b"PRIVATE KEY-----" in text[:64]:
        return load_private_key(data).public_key()
    loader = (serialization.load_pem_public_key if text.startswith(b"-----")
              else serialization.load_der_public_key)
    try:
        return loader(data)
    # UnsupportedAlgorithm: a well-formed key on a curve OpenSSL lacks; not a ValueError
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a public key: {exc}") from None
