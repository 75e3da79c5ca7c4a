"""Just enough DER to read a certificate's extended key usage OIDs.

`cryptography` refuses to read any extension of a certificate when one of them is not
strict DER (the FI test DSCs encode a DEFAULT value in BasicConstraints; common/CO15 has
an empty ExtendedKeyUsage). A verifier still has to learn the signer's key usage, so this
walks the TBSCertificate itself and looks at the one extension it needs.
"""

from __future__ import annotations

EKU_OID = "2.5.29.37"
_SEQUENCE, _OID, _BOOLEAN, _OCTETS, _EXTENSIONS = 0x30, 0x06, 0x01, 0x04, 0xA3


class DerError(ValueError):
    """Bytes that are not the DER this reader expects."""


def _items(data: bytes):
    """(tag, content) of each item in a run of DER items, in order."""
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise DerError("truncated header")
        tag, length = data[at], data[at + 1]
        at += 2
        if length & 0x80:
            width = length & 0x7F
            if width == 0 or width > 4 or at + width > len(data):
                raise DerError("bad length")
            length = int.from_bytes(data[at:at + width], "big")
            at += width
        if at + length > len(data):
            raise DerError("item runs past its container")
        yield tag, data[at:at + length]
        at += length


def _one(data: bytes, tag: int) -> bytes:
    items = list(_items(data))
    if len(items) != 1 or items[0][0] != tag:
        raise DerError(f"expected one item of tag {tag:#x}")
    return items[0][1]


def oid_text(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise DerError("bad OID")
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(n) for n in (first, arcs[0] - 40 * first, *arcs[1:]))


def extended_key_usage(tbs_certificate: bytes) -> frozenset[str] | None:
    """The EKU OIDs of a DER TBSCertificate; None when it has no such extension."""
    fields = _one(tbs_certificate, _SEQUENCE)
    for tag, content in _items(fields):
        if tag != _EXTENSIONS:
            continue
        for ext_tag, extension in _items(_one(content, _SEQUENCE)):
            parts = list(_items(extension))
            if ext_tag != _SEQUENCE or not parts or parts[0][0] != _OID:
                raise DerError("malformed extension")
            if oid_text(parts[0][1]) != EKU_OID:
                continue
            value = parts[-1]
            if value[0] != _OCTETS:
                raise DerError("extension value is not an OCTET STRING")
            usages = _one(value[1], _SEQUENCE)
            return frozenset(oid_text(oid) for tag_, oid in _items(usages) if tag_ == _OID)
    return None
