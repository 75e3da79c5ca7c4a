"""EU DCC (HC1) passes and signer certificates made here by cbor2 and cryptography directly
(no models code on the signing side), for the verifier's tests."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import zlib
from dataclasses import replace

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

from models.trust import TrustStore
from tests.support.independent_cp1 import base45

NOW = 1_790_000_000
DAY = 86400
TEST, VACC, RECOVERY = ("1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.1847.2021.1.2",
                        "1.3.6.1.4.1.1847.2021.1.3")
MISTYPED_VACC = "1.3.6.1.4.1.0.1847.2021.1.2"
SUBJECT_KEY = b"k" * 32


def dsc(key, *, eku=None, days=(-100, 400)):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSC test")])
    start = dt.datetime.fromtimestamp(NOW + days[0] * DAY, dt.UTC)
    end = dt.datetime.fromtimestamp(NOW + days[1] * DAY, dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end))
    if eku is not None:
        usages = [x509.ObjectIdentifier(oid) for oid in eku]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def trust(*certs, revoked_cti=(), revoked_sub=(), subject_key=SUBJECT_KEY, kid=None):
    entries = [{"cert": base64.b64encode(c).decode()} for c in certs]
    if kid is not None:
        for entry in entries:
            entry["kid"] = base64.b64encode(kid).decode()
    store = TrustStore.from_payloads({"keys": entries},
                                     {"cti": list(revoked_cti), "sub": list(revoked_sub)})
    return replace(store, subject_key=subject_key)


def dcc(kind="v", **entry):
    base = {"v": {"tg": "840539006", "dn": 2, "sd": 2, "dt": "2026-10-01"},
            "t": {"tg": "840539006", "tr": "260415000", "sc": "2026-09-21T12:00:00Z"},
            "r": {"tg": "840539006", "fr": "2026-08-01"}}[kind]
    return {"ver": "1.3.0", "nam": {"fn": "Müller", "fnt": "MUELLER", "gn": "Anna",
                                    "gnt": "ANNA"}, "dob": "1990-01-31",
            kind: [{**base, "ci": "URN:UVCI:01:XX:TEST" + kind, **entry}]}


def hc1_text(key, cert, *, iat=NOW - DAY, exp=NOW + 30 * DAY, certificate=None,
             alg=None, der_signature=False, kid=None, pad=b""):
    claims = {1: "XX", 6: iat, 4: exp, -260: {1: certificate or dcc()}}
    if pad:
        claims[-260][1]["pad"] = pad.hex()
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    alg = alg if alg is not None else (-37 if rsa_key else -7)
    kid = kid if kid is not None else hashlib.sha256(cert).digest()[:8]
    protected = cbor2.dumps({1: alg, 4: kid})
    payload = cbor2.dumps(claims)
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    if rsa_key:
        signature = key.sign(signed, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                             hashes.SHA256())
    else:
        signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
        if not der_signature:
            r, s = utils.decode_dss_signature(signature)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    message = cbor2.CBORTag(18, [protected, {}, payload, signature])
    return "HC1:" + base45(zlib.compress(cbor2.dumps(message)))


EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_CERT = dsc(EC_KEY)
