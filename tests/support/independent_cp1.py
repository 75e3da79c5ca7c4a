"""A second, independent implementation of PROTOCOL.md sections 1 and 3, for the tests.

Written from the spec text only, with cbor2 and cryptography directly and none of our
models code, so that a misreading of the spec shared by issuer and verifier shows up as a
test failure instead of cancelling out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45(data: bytes) -> str:
    chars = []
    for i in range(0, len(data), 2):
        pair = data[i:i + 2]
        value = int.from_bytes(pair, "big")
        width = 3 if len(pair) == 2 else 2
        for _ in range(width):
            value, digit = divmod(value, 45)
            chars.append(B45[digit])
    return "".join(chars)


def unbase45(text: str) -> bytes:
    out = b""
    for i in range(0, len(text), 3):
        group = text[i:i + 3]
        value = sum(B45.index(c) * 45 ** n for n, c in enumerate(group))
        out += value.to_bytes(2 if len(group) == 3 else 1, "big")
    return out


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def load_key(path) -> ec.EllipticCurvePrivateKey:
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def kid(public_key) -> bytes:
    return hashlib.sha256(spki(public_key)).digest()[:8]


def es256_raw(key, data: bytes) -> bytes:
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def claims(*, iss="CN-BJ-110105", color="green", iat: int, exp: int, sub=None, cti=None,
           nat=None, nm=None, unit=None) -> dict:
    hc = {"sub": sub or os.urandom(16), "col": color}
    for name, value in (("nat", nat), ("nm", nm), ("unit", unit)):
        if value is not None:
            hc[name] = value
    return {1: iss, 6: iat, 4: exp, 7: cti or os.urandom(16), -70000: hc}


def cose_sign1(key, payload: bytes, *, key_id: bytes | None = None, alg: int = -7,
               kid_where: str = "protected", tagged: bool = True) -> bytes:
    key_id = kid(key.public_key()) if key_id is None else key_id
    protected_map = {1: alg}
    unprotected = {}
    (protected_map if kid_where == "protected" else unprotected)[4] = key_id
    protected = cbor2.dumps(protected_map)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    body = [protected, unprotected, payload, es256_raw(key, to_sign)]
    return cbor2.dumps(cbor2.CBORTag(18, body) if tagged else body)


def qr_text(cose: bytes, prefix: str = "CP1:") -> str:
    return prefix + base45(zlib.compress(cose))


def make_pass(key, *, key_id: bytes | None = None, tagged=True, kid_where="protected",
              **claim_values) -> str:
    payload = cbor2.dumps(claims(**claim_values))
    return qr_text(cose_sign1(key, payload, key_id=key_id, tagged=tagged, kid_where=kid_where))


def tampered_pass(key, **claim_values) -> str:
    """A validly signed pass whose payload is changed by one byte after signing."""
    cose = cose_sign1(key, cbor2.dumps(claims(nm="张*明", **claim_values)))
    # another person's name of the same length: the CBOR stays well-formed, the signature
    # no longer matches
    return qr_text(cose.replace("张".encode(), "李".encode(), 1))


def zlib_bomb(size: int = 64 * 1024) -> str:
    return "CP1:" + base45(zlib.compress(b"\x00" * size))


def read_pass(text: str, public_key) -> dict:
    """Decode and verify a CP1 pass made by someone else; returns its claims."""
    assert text.startswith("CP1:")
    tag = cbor2.loads(zlib.decompress(unbase45(text[4:])))
    protected, _unprotected, payload, signature = tag.value
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                     int.from_bytes(signature[32:], "big"))
    public_key.verify(der, to_sign, ec.ECDSA(hashes.SHA256()))
    assert cbor2.loads(protected) == {1: -7, 4: kid(public_key)}
    return cbor2.loads(payload)


def envelope(kind: str, payload: dict, root_key) -> dict:
    data = json.dumps(payload).encode()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return {"schema": "checkpoint.bundle/1", "kind": kind, "kid": b64(kid(root_key.public_key())),
            "payload": b64(data), "sig": b64(es256_raw(root_key, data))}


def trustlist_payload(*public_keys, iss="CN-BJ-110105", version=1, not_before=None,
                      not_after=None) -> dict:
    keys = [{"kid": base64.b64encode(kid(pub)).decode(), "iss": iss,
             "spki": base64.b64encode(spki(pub)).decode(),
             "not_before": not_before, "not_after": not_after} for pub in public_keys]
    return {"version": version, "issued": "2026-01-01T00:00:00.000Z",
            "next_update": "2036-01-01T00:00:00.000Z", "keys": keys}


def revocations_payload(cti=(), sub=(), version=1) -> dict:
    return {"version": version, "issued": "2026-01-01T00:00:00.000Z",
            "next_update": "2036-01-01T00:00:00.000Z",
            "cti": [c.hex() for c in cti], "sub": [s.hex() for s in sub]}


def spki_pem(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def unsupported_curve_spki() -> str:
    """A well-formed EC key whose named curve (OID 1.2.3.4) no OpenSSL supports."""
    der = bytearray(spki(new_key().public_key()).replace(
        bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06032a0304")))
    der[1] -= 5     # outer SEQUENCE and AlgorithmIdentifier lengths shrink by 5
    der[3] -= 5
    return base64.b64encode(bytes(der)).decode()
