"""Base45 (RFC 9285): the QR alphanumeric-mode friendly encoding used by CP1 and HC1."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    """Two bytes become three characters, a trailing single byte two (least significant first)."""
    out = []
    for start in range(0, len(data) - 1, 2):
        n = data[start] * 256 + data[start + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45; raises ValueError on a foreign character, a bad length or an overflow."""
    try:
        values = [_VALUE[char] for char in text]
    except KeyError as exc:
        raise ValueError(f"base45: invalid character {exc.args[0]!r}") from None
    if len(values) % 3 == 1:
        raise ValueError(f"base45: invalid length {len(values)}")
    out = bytearray()
    for start in range(0, len(values), 3):
        chunk = values[start:start + 3]
        n = sum(v * 45 ** i for i, v in enumerate(chunk))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise ValueError(f"base45: group at {start} exceeds 65535")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise ValueError("base45: final group exceeds 255")
            out.append(n)
    return bytes(out)
