"""Hostile MQTT messages for the three inbound channels, seeded and structure-aware.

    messages = Generators(context, seed=1)
    message = messages.next("ack")    # Message(kind, topic, payload, retain, content_type)

Used by scripts/fuzz_channels.py. A channel (`bundle`, `ack`, `records`) draws one kind
per message, by weight; each kind is one way of being wrong:

- shape, on every channel: random bytes; a plausible message truncated, garbled or
  mis-encoded (UTF-16, BOM, invalid UTF-8, trailing garbage); a hostile top-level scalar
  (2^63, 1e400, NaN / Infinity literals, lone surrogates, 4400-digit integers); nesting
  to 10^5; empty payloads and objects; very long strings; thousands of unknown keys;
  every field of a plausible message replaced by a value of the wrong type.
- bundle: envelopes with a random kid / sig / payload, the real root kid over a random
  signature, bad base64, a base64 payload of deep JSON; and payloads signed by the demo
  root itself (so the parser behind the signature is reached): deep or non-object JSON,
  hostile `version` / `issued` / `next_update`, hostile bodies under a newer version,
  rollbacks, replays of the bundles in force, kinds that are no trust bundle.
- ack: acks for unknown batches naming the device's real store with accepted
  [[1, 1000000000]] or small plausible ranges, negative / reversed / 2^63 / 1e400 /
  string / float ranges, ranges and rejected lists of odd shape, other stores, wrong
  schema.
- records: batches on the device's and other devices' topics with valid envelopes and
  mutated records (every field, seq extremes, strings with NUL and lone surrogates, bad
  times, unknown and missing fields), envelope fields of the wrong type, a device that is
  not the topic's, zlib content type over non-zlib bytes, zlib bombs, unknown content
  types, and (twice a run) 100000 empty records in one small zlib batch. A batch names
  one of STORE_POOL forged stores, or on the device's own topic its real store at seqs
  from 2^40 up, so a forged batch never takes a seq the device will use; `new_store` sends
  a valid batch on the device's topic from a store never seen before, every time.

Every payload is under MAX_PAYLOAD. Messages are made on demand (cheap: small JSON, and
the large blobs built once and shared), from one random.Random per channel seeded with
(seed, channel), so a run's sequence of kinds and shapes is reproducible (timestamps, the
device's store id and its current seq come from the running site).
"""

from __future__ import annotations

import base64
import bisect
import collections
import itertools
import json
import math
import random
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from models.bundle import KINDS as BUNDLE_KINDS
from models.bundle import SCHEMA as BUNDLE_SCHEMA
from models.records import FIELD_TYPES, FIELDS, OPTIONAL_FIELDS
from models.timefmt import rfc3339
from models.wire import CONTENT_JSON, CONTENT_ZLIB, SCHEMA_ACK, SCHEMA_BATCH, Topics

CHANNELS = ("bundle", "ack", "records")
MAX_PAYLOAD = 1_000_000         # the broker's limit is 1 MiB; room for topic and properties
TRUST_KINDS = ("trustlist", "revocations", "policy")
FORGED_SEQ_BASE = 2 ** 40       # forged batches in the device's real store start here
STORE_POOL = 16                 # forged store ids a run reuses
DEPTHS = (17, 64, 500, 999, 1000, 5000, 100_000)


@dataclass(frozen=True)
class Message:
    kind: str                   # "<channel>.<kind>", e.g. "ack.forged_full_range"
    topic: str
    payload: bytes
    retain: bool = False
    content_type: str | None = None


@dataclass
class Context:
    """What the generators need to know of the running site."""

    device: str
    store_id: str                       # the device's real store id
    root_key: object                    # the demo root's private key
    root_kid: str                       # its kid, base64, as envelopes name it
    envelopes: dict[str, dict]          # the demo bundles in force, by kind
    payloads: dict[str, dict]           # their decoded payloads
    max_seq: Callable[[], int] = lambda: 1      # highest seq the device has committed
    topics: Topics = field(default_factory=Topics)
    other_devices: tuple[str, ...] = (
        *(f"fz-{n:04d}" for n in range(1, 21)), "Fz-0001", "x" * 64, "y" * 300, "dév-ü",
        "district", "-lead", ".", "..", "a.b_c-d", "0")


# -- JSON with fragments Python cannot produce (1e400, 4400-digit ints) ---------------

class Raw:
    """A JSON fragment put into the text verbatim."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(value, ascii_only: bool = True) -> bytes:
    """JSON text of `value` with Raw fragments in place, as UTF-8 (surrogates passed
    through, so a lone one makes invalid UTF-8 when not escaped)."""
    raws: list[str] = []

    def mark(obj):
        if isinstance(obj, Raw):
            raws.append(obj.text)
            return f"\x01{len(raws) - 1}\x01"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=mark, separators=(",", ":"), ensure_ascii=ascii_only)
    for index, raw in enumerate(raws):
        text = text.replace(f'"\\u0001{index}\\u0001"', raw, 1)
    return text.encode("utf-8", "surrogatepass")


RAW_NUMBERS = ("1e400", "-1e400", "NaN", "-NaN", "Infinity", "-Infinity", "1e-400", "-0",
               "1E+308", "9" * 400, "1" + "0" * 4400, "-" + "9" * 5000, "0.1e99999",
               "123456789012345678901234567890.5e300", "01", "+1", ".5", "1.", "0x10")
RAW_STRINGS = ('"\\ud800"', '"\\udfff"', '"a\\ud800b"', '"\\udc00\\ud800"', '"\\u0000"',
               '"\\ud83d\\ude00"', '"\\u202e"', '"\\uffff"', '"\\x41"', '"\\u12"')
BIG_INTS = (2 ** 63 - 1, 2 ** 63, -(2 ** 63), -(2 ** 63) - 1, 2 ** 64, 10 ** 30, 2 ** 1000,
            -1, 0, 1)
ODD_STRINGS = ("", " ", "x", "null", "true", "0", "-1", "1e400", "\x00", "a\x00b", "é",
               "😀", "\ud800", "\u202etxt", "2026-11-29T03:04:05.123Z", "2026-13-45T99:99:99Z",
               "𝕏" * 5, "../../etc/passwd", "'; DROP TABLE records; --", "%s%n", "\r\n")
SMALL_CONTAINERS = ([], {}, [[]], [{}], {"": None}, [None], [1, 2, 3], {"seq": 1},
                    [[1, 1]], {"a": {"b": {}}})


@cache
def deep_text(depth: int, shape: str = "list") -> str:
    if shape == "dict":
        return '{"a":' * depth + "0" + "}" * depth
    if shape == "mixed":
        half = depth // 2
        return '[{"a":' * half + "[]" + "}]" * half
    if shape == "open":
        return "[" * depth
    return "[" * depth + "]" * depth


@cache
def _long_text() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789张明é😀 \"\\/\t"
    return "".join(random.Random(0).choices(alphabet, k=900_000))


def long_string(rng: random.Random, low: int = 1_000, high: int = 100_000) -> str:
    size = int(low * (high / low) ** rng.random())     # log-uniform
    start = rng.randrange(len(_long_text()) - size)
    return _long_text()[start:start + size]


def deep(rng: random.Random, big: float = 0.1) -> Raw:
    """Nesting around the limits (a bounded parser's 16 levels, the standard parser's stack
    near 1000), sometimes to 10^5."""
    depth = 100_000 if rng.random() < big else rng.choice(DEPTHS[:-1])
    return Raw(deep_text(depth, rng.choice(("list", "list", "dict", "mixed"))))


def hostile(rng: random.Random, nested: bool = True):
    """A value of the wrong type (or the right type at an extreme) for any field."""
    pick = rng.random()
    if pick < 0.16:
        return rng.choice(BIG_INTS)
    if pick < 0.30:
        return Raw(rng.choice(RAW_NUMBERS))
    if pick < 0.38:
        return Raw(rng.choice(RAW_STRINGS))
    if pick < 0.46:
        return rng.choice((None, True, False))
    if pick < 0.58:
        return rng.choice(ODD_STRINGS)
    if pick < 0.62:
        return long_string(rng, 100, 20_000)
    if pick < 0.72:
        return rng.choice(SMALL_CONTAINERS)
    if pick < 0.76:
        return deep(rng, big=0.02)
    if pick < 0.84:
        return rng.choice((1.5, -0.0, 1e308, -1e308, 5e-324, rng.uniform(-1e6, 1e6)))
    if pick < 0.90 or not nested:
        return [rng.randint(-2 ** 64, 2 ** 64) for _ in range(rng.randint(1, 20))]
    return {random_key(rng): hostile(rng, nested=False) for _ in range(rng.randint(1, 6))}


def random_key(rng: random.Random) -> str:
    return rng.choice(("", "x", "__proto__", "constructor", "\ud800", "\x00", "é", "seq",
                       "schema", "k" * 200, f"f{rng.randrange(10 ** 6)}"))


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def replace_fields(rng: random.Random, obj: dict, names, count: int | None = None) -> dict:
    """A copy of `obj` with `count` (default 1-3) of `names` hostile or removed."""
    obj = dict(obj)
    names = list(names)
    for name in rng.sample(names, min(len(names), count or rng.randint(1, 3))):
        if rng.random() < 0.12:
            obj.pop(name, None)
        else:
            obj[name] = hostile(rng)
    return obj


# -- shapes every channel gets -----------------------------------------------------

def shape_bytes(rng, plausible):
    size = rng.choice((0, 1, 2, 8, 64, 256, 1024, 4096)) if rng.random() < 0.97 else 65536
    return rng.randbytes(size)


def shape_truncated(rng, plausible):
    text = plausible()
    return text[:rng.randrange(max(1, len(text)))]


def shape_garbled(rng, plausible):
    data = bytearray(plausible())
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.4 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.6:
            data[at:at] = rng.choice((b'"', b"\\", b"{", b"]", b",", b":", b"\x00", b"\xff",
                                      b"\xc3", b"\xed\xa0\x80", rng.randbytes(4)))
        elif choice < 0.8:
            del data[at:at + rng.randint(1, 8)]
        else:
            data[at:at] = data[at:at + rng.randint(1, 32)] * rng.randint(2, 20)
    return bytes(data)


def shape_encoding(rng, plausible):
    text = plausible()
    choice = rng.randrange(8)
    if choice == 0:
        return text.decode("utf-8", "replace").encode(rng.choice(("utf-16", "utf-16-be",
                                                                   "utf-32")))
    if choice == 1:
        return b"\xef\xbb\xbf" + text
    if choice == 2:
        at = text.find(b'":"') + 3 if b'":"' in text else 0
        return text[:at] + rng.choice((b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88")) + \
            text[at:]
    if choice == 3:
        return text + rng.choice((b"x", b"}", b"\x00", b" {}", b"\n" + text))
    if choice == 4:
        return b"\x00" + text
    if choice == 5:
        return text.decode("utf-8", "replace").encode("latin-1", "replace")
    if choice == 6:
        return b" \t\r\n" * rng.randint(1, 1000) + text
    return text.replace(b'"', b"'")


def shape_scalar(rng, plausible):
    return dumps(rng.choice((hostile(rng), Raw(rng.choice(RAW_NUMBERS)),
                             Raw(rng.choice(RAW_STRINGS)), rng.choice(BIG_INTS))))


def shape_deep(rng, plausible):
    return deep(rng, big=0.1).text.encode()


def shape_empty(rng, plausible):
    return rng.choice((b"", b"{}", b"[]", b'""', b"null", b" ", b"\n", b"0", b"{}" * 2))


def shape_long(rng, plausible):
    obj = json.loads(plausible())
    obj[rng.choice(list(obj))] = long_string(rng, 100_000, 900_000)
    return dumps(obj, ascii_only=False)


def shape_unknown_keys(rng, plausible):
    obj = json.loads(plausible())
    for n in range(int(10 ** rng.uniform(0, 3.3))):
        obj[f"{random_key(rng)}{n}"] = hostile(rng, nested=False) if n < 50 else n
    return dumps(obj)


def shape_wrong_types(rng, plausible):
    obj = json.loads(plausible())
    return dumps(replace_fields(rng, obj, obj), ascii_only=rng.random() < 0.8)


def shape_deep_field(rng, plausible):
    obj = json.loads(plausible())
    obj[rng.choice(list(obj))] = deep(rng, big=0.05)
    return dumps(obj)


# weights; the channels add their own kinds
SHAPES = {"bytes": (shape_bytes, 5), "truncated": (shape_truncated, 5),
          "garbled": (shape_garbled, 5), "encoding": (shape_encoding, 3),
          "scalar": (shape_scalar, 3), "deep": (shape_deep, 2), "empty": (shape_empty, 2),
          "long": (shape_long, 0.2), "unknown_keys": (shape_unknown_keys, 2),
          "wrong_types": (shape_wrong_types, 8), "deep_field": (shape_deep_field, 2)}


# -- bundles -----------------------------------------------------------------------

class BundleKinds:
    WEIGHTS = {"random_envelope": 8, "root_kid_bad_sig": 8, "bad_base64": 4,
               "unsigned_deep_payload": 2, "signed_deep_payload": 2, "signed_non_object": 3,
               "signed_bad_meta": 5, "signed_bad_body": 6, "signed_old": 2, "replayed": 2,
               "wrong_kind": 3}

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.newer = 10 ** 6        # versions for hostile bodies: each newer than the last

    def topic(self, rng) -> str:
        return rng.choice(self.ctx.topics.bundles(self.ctx.device))

    def plausible(self, rng) -> bytes:
        return dumps(self.ctx.envelopes[rng.choice(TRUST_KINDS)])

    def sign(self, kind, data: bytes) -> dict:
        r, s = decode_dss_signature(self.ctx.root_key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return {"schema": BUNDLE_SCHEMA, "kind": kind, "kid": self.ctx.root_kid,
                "payload": b64(data), "sig": b64(sig)}

    def meta(self, version: int) -> dict:
        now = time.time()
        return {"version": version, "issued": rfc3339(now), "next_update": rfc3339(now + 86400)}

    def random_envelope(self, rng):
        return dumps({"schema": BUNDLE_SCHEMA, "kind": rng.choice(BUNDLE_KINDS),
                      "kid": b64(rng.randbytes(rng.choice((0, 1, 8, 8, 8, 32)))),
                      "payload": b64(rng.randbytes(rng.randint(0, 512))),
                      "sig": b64(rng.randbytes(rng.choice((0, 63, 64, 64, 65, 128))))})

    def root_kid_bad_sig(self, rng):
        kind = rng.choice(TRUST_KINDS)
        data = dumps({**self.ctx.payloads[kind], **self.meta(self.newer + 1)})
        envelope = self.sign(kind, data)
        sig = bytearray(base64.b64decode(envelope["sig"]))
        choice = rng.randrange(4)
        if choice == 0:
            sig[rng.randrange(64)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            sig = bytearray(rng.randbytes(64))
        elif choice == 2:
            sig = bytearray(base64.b64decode(self.ctx.envelopes[kind]["sig"]))  # another's
        else:
            sig = bytearray(rng.choice((b"\0" * 64, b"\xff" * 64, bytes(32) + b"\1" * 32)))
        envelope["sig"] = b64(bytes(sig))
        return dumps(envelope)

    def bad_base64(self, rng):
        envelope = dict(self.ctx.envelopes[rng.choice(TRUST_KINDS)])
        name = rng.choice(("kid", "payload", "sig"))
        good = envelope[name]
        envelope[name] = rng.choice((
            "@@@", "AAA", "AAAA=", "=" * 5, f" {good} ", good[:-1], good.replace("+", "-"),
            good[:4] + "\n" + good[4:], good + "\x00", "ＱＵＪＤ", good + "====",
            good.encode().hex(), "\ud800" + good))
        return dumps(envelope, ascii_only=rng.random() < 0.5)

    def unsigned_deep_payload(self, rng):
        envelope = dict(self.ctx.envelopes[rng.choice(TRUST_KINDS)])
        envelope["payload"] = b64(deep(rng, big=0.05).text.encode())
        return dumps(envelope)

    def signed_deep_payload(self, rng):
        body = deep(rng, big=0.05).text
        if rng.random() < 0.5:
            meta = dumps(self.meta(self.bump())).decode()[:-1]
            body = f'{meta},"keys":{body}}}'
        return dumps(self.sign(rng.choice(TRUST_KINDS), body.encode()))

    def signed_non_object(self, rng):
        valid = dumps({**self.ctx.payloads["revocations"], **self.meta(self.bump())})
        data = rng.choice((
            b"[]", b"1", b'"x"', b"null", b"NaN", b"1e400", b"\xff\xfe", b"", b"\xed\xa0\x80",
            valid.decode().encode("utf-16"), valid + b"x", valid[:-1], b'{"version":1}' * 2,
            dumps(hostile(rng)), dumps([valid.decode()]), rng.randbytes(64),
            b'{"\\ud800":1,"version":1}'))
        return dumps(self.sign(rng.choice(TRUST_KINDS), data))

    def signed_bad_meta(self, rng):
        kind = rng.choice(TRUST_KINDS)
        payload = {**self.ctx.payloads[kind], **self.meta(self.bump())}
        payload = replace_fields(rng, payload, ("version", "issued", "next_update"))
        # The body is broken too: metadata that happens to be valid (2^63 is a version, an
        # ODD_STRINGS time a time) must not put a bundle in force.
        payload.update(self._broken_body(kind))
        return dumps(self.sign(kind, dumps(payload, ascii_only=rng.random() < 0.7)))

    def _broken_body(self, kind) -> dict:
        return {"trustlist": {"keys": "x"}, "revocations": {"cti": 5},
                "policy": {"fever_threshold_c": "x"}}[kind]

    def signed_bad_body(self, rng):
        """Newer than anything so far, valid metadata, one hostile part of the body."""
        kind = rng.choice(TRUST_KINDS)
        payload = {**self.ctx.payloads[kind], **self.meta(self.bump())}
        if kind == "trustlist":
            entry = dict(self.ctx.payloads["trustlist"]["keys"][0])
            choice = rng.randrange(3)
            if choice == 0:
                payload["keys"] = [replace_fields(rng, entry, (*entry, "cert"), 1)]
            elif choice == 1:
                payload["keys"] = [entry, hostile(rng)]
            else:
                value = hostile(rng)
                payload["keys"] = value if not isinstance(value, list) else [*value, {}]
        elif kind == "revocations":
            payload = replace_fields(rng, payload, ("cti", "sub"), 1)
        else:
            names = [n for n in payload if n not in ("version", "issued", "next_update")]
            payload = replace_fields(rng, payload, names, rng.randint(1, 2))
        return dumps(self.sign(kind, dumps(payload, ascii_only=rng.random() < 0.7)))

    def signed_old(self, rng):
        kind = rng.choice(TRUST_KINDS)
        version = self.ctx.payloads[kind]["version"] - rng.choice((0, 1))
        payload = {**self.ctx.payloads[kind], **self.meta(version), "fz": rng.random()}
        if kind == "policy":
            del payload["fz"]
            payload["fever_threshold_c"] = 37.5
        return dumps(self.sign(kind, dumps(payload)))

    def replayed(self, rng):
        return dumps(self.ctx.envelopes[rng.choice(TRUST_KINDS)])

    def wrong_kind(self, rng):
        kind = rng.choice(TRUST_KINDS)
        envelope = self.sign(kind, dumps({**self.ctx.payloads[kind], **self.meta(self.bump())}))
        envelope["kind"] = rng.choice(("roster", "Policy", "trustlist ", "", "config", 5, None,
                                       ["policy"], "\ud800"))
        if rng.random() < 0.3:
            envelope = self.sign("roster", dumps({**self.meta(self.bump()), "subjects": []}))
        return dumps(envelope)

    def bump(self) -> int:
        self.newer += 1
        return self.newer

    def table(self) -> dict:
        return {name: (getattr(self, name), weight) for name, weight in self.WEIGHTS.items()}


# -- acks --------------------------------------------------------------------------

EXTREMES = (0, -1, -(2 ** 63), 2 ** 63 - 1, 2 ** 63, 2 ** 64, 10 ** 30, 1.5, -0.0, True,
            False, None, "1", "1e3", " 1", "0x10", "١", "", Raw("1e400"), Raw("-1e400"),
            Raw("NaN"), Raw("Infinity"), Raw("1" + "0" * 4400), 1e308)


class AckKinds:
    WEIGHTS = {"forged_full_range": 2, "forged_small_range": 4, "range_extremes": 6,
               "range_shapes": 5, "rejected_shapes": 5, "other_store": 4, "store_types": 3,
               "schema": 3, "batch_types": 3}

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def topic(self, rng) -> str:
        return self.ctx.topics.ack(self.ctx.device)

    def ack(self, rng, accepted, rejected=None, store=None, batch=None) -> dict:
        return {"schema": SCHEMA_ACK, "batch": batch or uuid4(rng),
                "store": store or self.ctx.store_id, "accepted": accepted,
                "rejected": [] if rejected is None else rejected}

    def seq(self, rng) -> int:
        return rng.randint(1, self.ctx.max_seq() + 3)

    def plausible(self, rng) -> bytes:
        first = self.seq(rng)
        return dumps(self.ack(rng, [[first, max(first, self.seq(rng))]]))

    def forged_full_range(self, rng):
        return dumps(self.ack(rng, [[1, 1_000_000_000]]))

    def forged_small_range(self, rng):
        ranges = []
        for _ in range(rng.randint(1, 4)):
            first = self.seq(rng)
            ranges.append([first, first + rng.randint(0, 3)])
        rejected = [{"seq": self.seq(rng), "reason": "conflict"}] if rng.random() < 0.3 else []
        return dumps(self.ack(rng, ranges, rejected))

    def range_extremes(self, rng):
        pairs = [[rng.choice(EXTREMES), rng.choice(EXTREMES + (self.seq(rng),))]
                 for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            pairs = [[self.seq(rng) + 5, 1]]      # reversed
        return dumps(self.ack(rng, pairs))

    def range_shapes(self, rng):
        seq = self.seq(rng)
        accepted = rng.choice((
            hostile(rng), [seq], [seq, seq], [[seq]], [[seq, seq, seq]], [[]], [{}],
            {"a": seq}, "ab", "12", [[[seq, seq]]], [["1", "2"]], [[seq, None]],
            [[seq, seq]] * 1000, [[i, i] for i in range(1, 300)], [hostile(rng)]))
        return dumps(self.ack(rng, accepted))

    def rejected_shapes(self, rng):
        seq = self.seq(rng)
        rejected = rng.choice((
            hostile(rng), [seq], "x", {"seq": seq}, [{"seq": hostile(rng), "reason": "x"}],
            [{"seq": seq, "reason": hostile(rng)}], [{"seq": seq, "reason": deep(rng, 0)}],
            [{"seq": True}], [{"seq": 2 ** 63}], [{"seq": n, "reason": "r"} for n in
                                                   range(1, 1000)], [{}], [None], [[seq]]))
        return dumps(self.ack(rng, [], rejected))

    def other_store(self, rng):
        store = rng.choice((uuid4(rng), self.ctx.store_id.upper(), f" {self.ctx.store_id}",
                            self.ctx.store_id[:-1], self.ctx.store_id.replace("-", "")))
        return dumps(self.ack(rng, [[1, 1_000_000_000]], store=store))

    def store_types(self, rng):
        obj = self.ack(rng, [[1, 1_000_000_000]])
        obj["store"] = hostile(rng)
        return dumps(obj)

    def schema(self, rng):
        obj = self.ack(rng, [[1, 1_000_000_000]])
        obj["schema"] = rng.choice(("checkpoint.ack/1 ", "CHECKPOINT.ACK/1", "checkpoint.ack/2",
                                    SCHEMA_BATCH, "", None, hostile(rng)))
        if rng.random() < 0.2:
            del obj["schema"]
        return dumps(obj)

    def batch_types(self, rng):
        obj = self.ack(rng, [])
        obj["batch"] = hostile(rng)
        return dumps(obj)

    def table(self) -> dict:
        return {name: (getattr(self, name), weight) for name, weight in self.WEIGHTS.items()}


# -- batches -----------------------------------------------------------------------

BAD_TIMES = ("2026-02-30T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z",
             "2026-11-29T03:04:05.123+14:00", "2026-11-29 03:04:05", "-2026-11-29T03:04:05Z",
             "2026-11-29T03:04:05.1234567890123Z", "2026-11-29T24:00:00Z", "1e400", "",
             "2026-11-29T03:04:05.123\ud800Z", "99999-01-01T00:00:00Z", "T", "2026")
CONTENT_TYPES = ("application/json+gzip", "", "application/JSON", "text/plain",
                 f"{CONTENT_ZLIB} ", "application/json; charset=utf-8", "x" * 1000,
                 "application/json+zlib+zlib", "\u202eapplication/json")


class RecordKinds:
    WEIGHTS = {"envelope_types": 6, "device_mismatch": 3, "mutated_records": 14, "valid": 3,
               "records_shapes": 4, "seq_extremes": 4, "strings": 4, "times": 3,
               "numbers": 3, "zlib_garbage": 4, "zlib_valid": 4, "zlib_bomb": 0.05,
               "records_bomb": 0.02, "content_type": 2, "new_store": 2}

    CAPS = {"records_bomb": 2}     # seconds of the receiver each: a few show it

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.forged_seq = FORGED_SEQ_BASE
        self._topic_device = ctx.device
        self._stores = [uuid4(random.Random(n)) for n in range(STORE_POOL)]
        self.moved_to: str | None = None    # a kind that needs another topic sets it
        self._store = self._stores[0]
        self._template: tuple[int, dict] = (0, {})

    def topic(self, rng) -> str:
        own = rng.random() < 0.5
        self._topic_device = self.ctx.device if own else rng.choice(self.ctx.other_devices)
        if own and rng.random() < 0.2:
            self._store = self.ctx.store_id     # the real store, seqs out of the device's reach
        else:       # a few forged stores, again and again (`new_store` makes fresh ones)
            self._store = self._stores[rng.randrange(len(self._stores))]
        return self.ctx.topics.records(self._topic_device)

    def seq(self, rng) -> int:
        if self._store == self.ctx.store_id:
            self.forged_seq += 1
            return self.forged_seq
        return rng.randint(1, 10 ** 6)

    def record(self, rng) -> dict:
        """A valid record (new id, seq and subject; the times change once a second)."""
        now = int(time.time())
        if self._template[0] != now:
            self._template = (now, {
                "ts": rfc3339(now - 5), "clock_synced": True, "gate": "east-1",
                "pass_format": "CP1", "issuer": "CN-BJ-110105", "kid": "a1b2c3d4e5f6a7b8",
                "color": "green", "pass_exp": rfc3339(now + 115), "tested_at": None,
                "operator": None, "note": None})
        record = {"id": uuid4(rng), "seq": self.seq(rng), **self._template[1],
                  "decision": rng.choice(("pass", "deny", "check")),
                  "reasons": rng.choice(([], ["fever"], ["color_red", "fever"])),
                  "subject": f"{rng.getrandbits(128):032x}",
                  "temperature_c": rng.choice((36.5, 36.8, 38.1, None))}
        if rng.random() < 0.2:
            record.update(card=f"{rng.getrandbits(128):032x}", card_kind="mifare")
        return record

    def batch(self, rng, records) -> dict:
        return {"schema": SCHEMA_BATCH, "device": self._topic_device, "store": self._store,
                "batch": uuid4(rng), "sent": rfc3339(time.time()), "records": records}

    def plausible(self, rng) -> bytes:
        return dumps(self.batch(rng, [self.record(rng) for _ in range(rng.randint(1, 5))]))

    def mutated(self, rng) -> dict:
        record = self.record(rng)
        choice = rng.random()
        if choice < 0.6:
            return replace_fields(rng, record, FIELD_TYPES, rng.randint(1, 2))
        if choice < 0.75:
            record[random_key(rng)] = hostile(rng)     # an unknown field
        elif choice < 0.9:
            del record[rng.choice(FIELDS)]
        else:
            record[rng.choice(OPTIONAL_FIELDS)] = hostile(rng)
        return record

    def envelope_types(self, rng):
        obj = self.batch(rng, [self.record(rng)])
        return dumps(replace_fields(rng, obj, obj))

    def device_mismatch(self, rng):
        obj = self.batch(rng, [self.record(rng)])
        obj["device"] = rng.choice((*self.ctx.other_devices, self._topic_device.upper(),
                                    f"{self._topic_device} ", hostile(rng)))
        return dumps(obj)

    def mutated_records(self, rng):
        records = [self.mutated(rng) if rng.random() < 0.7 else self.record(rng)
                   for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.2 and len(records) > 1:       # the same seq, or id, twice
            name = rng.choice(("seq", "id"))
            records[-1] = {**records[-1], name: records[0].get(name)}
        return dumps(self.batch(rng, records), ascii_only=rng.random() < 0.8)

    def new_store(self, rng):
        """A valid batch on the device's own topic from a store never seen before: each is
        one more store of that device in the district's registry."""
        self._topic_device, self._store = self.ctx.device, uuid4(rng)
        self.moved_to = self.ctx.topics.records(self.ctx.device)
        return dumps(self.batch(rng, [self.record(rng) for _ in range(rng.randint(1, 5))]))

    def valid(self, rng):
        return dumps(self.batch(rng, [self.record(rng) for _ in range(rng.randint(1, 20))]),
                     ascii_only=False)

    def records_shapes(self, rng):
        records = rng.choice((hostile(rng), "records", {"0": self.record(rng)}, [1, 2, 3],
                              [[self.record(rng)]], [{}] * 300, [None] * 50, [],
                              [deep(rng, 0)], [self.record(rng)] * 20))
        return dumps(self.batch(rng, records))

    def seq_extremes(self, rng):
        records = [{**self.record(rng), "seq": rng.choice(EXTREMES)}
                   for _ in range(rng.randint(1, 5))]
        return dumps(self.batch(rng, records))

    def strings(self, rng):
        names = [n for n, kind in FIELD_TYPES.items() if "text" in kind]
        records = []
        for _ in range(rng.randint(1, 5)):
            record = self.record(rng)
            record[rng.choice(names)] = rng.choice((
                "\ud800", "a\x00b", Raw('"\\u0000"'), Raw('"\\udfff"'), "", " ", "😀" * 100,
                "\u202e", long_string(rng, 1000, 200_000), "\ud83d\ude00", "\x7f\x1b[2J"))
            records.append(record)
        return dumps(self.batch(rng, records), ascii_only=rng.random() < 0.6)

    def times(self, rng):
        records = [{**self.record(rng), rng.choice(("ts", "pass_exp", "tested_at")):
                    rng.choice(BAD_TIMES)} for _ in range(rng.randint(1, 5))]
        return dumps(self.batch(rng, records))

    def numbers(self, rng):
        records = [{**self.record(rng),
                    "temperature_c": rng.choice((Raw("1e400"), Raw("NaN"), Raw("-Infinity"),
                                                 2 ** 1000, -0.0, 1e308, "36.6", True)),
                    "clock_synced": rng.choice((True, 0, 1, "true", None))}
                   for _ in range(rng.randint(1, 5))]
        return dumps(self.batch(rng, records))

    def zlib_garbage(self, rng):
        real = zlib.compress(self.plausible(rng))
        return rng.choice((rng.randbytes(rng.choice((0, 1, 16, 1024))), real[:len(real) // 2],
                           real[2:], b"\x1f\x8b\x08" + real, real + rng.randbytes(8),
                           self.plausible(rng), zlib.compress(rng.randbytes(512)),
                           zlib.compress(deep(rng, 0.3).text.encode()))), CONTENT_ZLIB

    def zlib_valid(self, rng):
        records = [self.mutated(rng) for _ in range(rng.randint(1, 8))]
        return zlib.compress(dumps(self.batch(rng, records))), CONTENT_ZLIB

    def zlib_bomb(self, rng):
        choice = rng.randrange(4)
        if choice < 3:
            return bomb(choice), CONTENT_ZLIB
        records = [self.record(rng) for _ in range(3000)]   # 3000 valid rows in one batch
        return zlib.compress(dumps(self.batch(rng, records)), 9), CONTENT_ZLIB

    def records_bomb(self, rng):
        """A valid envelope around 100000 empty records: 300 KB inflated, under a batch's
        size limit, in half a KiB; each record is judged (and refused) alone."""
        head = dumps(self.batch(rng, []))[:-3]      # up to `"records":`
        return zlib.compress(head + b"[" + b"{}," * 100_000 + b"{}]}", 9), CONTENT_ZLIB

    def content_type(self, rng):
        payload = self.plausible(rng)
        if rng.random() < 0.3:
            payload = zlib.compress(payload)
        return payload, rng.choice(CONTENT_TYPES)

    def table(self) -> dict:
        return {name: (getattr(self, name), weight) for name, weight in self.WEIGHTS.items()}


@cache
def bomb(which: int) -> bytes:
    """Compressed in a few KiB: 64 MiB of zeros (past the 16 MiB inflate limit), 15 MiB of
    spaces around an empty object, 15 MiB of open brackets."""
    if which == 0:
        return zlib.compress(b"\0" * (64 << 20), 9)
    if which == 1:
        return zlib.compress(b" " * (15 << 20) + b"{}", 9)
    return zlib.compress(b"[" * (15 << 20), 9)


# -- the generator -------------------------------------------------------------------

def kind_names(channel: str) -> list[str]:
    """Every kind a channel can draw, shapes included."""
    tables = {"bundle": BundleKinds, "ack": AckKinds, "records": RecordKinds}
    return [*SHAPES, *tables[channel].WEIGHTS]


class Generators:
    """One seeded stream of messages per channel; `only` restricts the kinds drawn
    (names with or without the channel prefix)."""

    def __init__(self, ctx: Context, seed: int, only: set[str] | None = None) -> None:
        self.ctx = ctx
        self.sources = {"bundle": BundleKinds(ctx), "ack": AckKinds(ctx),
                        "records": RecordKinds(ctx)}
        self.rngs = {name: random.Random(f"{seed}:{name}") for name in CHANNELS}
        self.tables: dict[str, tuple[list, list[float]]] = {}
        for name, source in self.sources.items():
            chosen = [(kind, func, weight) for kind, (func, weight)
                      in {**SHAPES, **source.table()}.items()
                      if not only or kind in only or f"{name}.{kind}" in only]
            totals = list(itertools.accumulate(weight for _, _, weight in chosen))
            self.tables[name] = ([(kind, func) for kind, func, _ in chosen], totals)
        self.drawn: collections.Counter = collections.Counter()

    def kinds(self, channel: str) -> list[str]:
        return [kind for kind, _ in self.tables[channel][0]]

    def next(self, channel: str) -> Message:
        rng, source = self.rngs[channel], self.sources[channel]
        rows, totals = self.tables[channel]
        if not rows:
            raise ValueError(f"no kind of the {channel} channel selected")
        caps = getattr(source, "CAPS", {})
        while True:     # a kind drawn as often as its cap allows is drawn again
            at = bisect.bisect_right(totals, rng.random() * totals[-1])
            kind, func = rows[min(at, len(rows) - 1)]
            if self.drawn[(channel, kind)] < caps.get(kind, math.inf) or \
                    all(self.drawn[(channel, k)] >= caps.get(k, math.inf) for k, _ in rows):
                break
        self.drawn[(channel, kind)] += 1
        topic = source.topic(rng)
        out = func(rng, lambda: source.plausible(rng)) if kind in SHAPES else func(rng)
        payload, content_type = out if isinstance(out, tuple) else (out, None)
        topic, source.moved_to = getattr(source, "moved_to", None) or topic, None
        if channel == "records" and content_type is None and rng.random() < 0.5:
            content_type = CONTENT_JSON
        retain = channel == "bundle" and rng.random() < 0.03
        return Message(f"{channel}.{kind}", topic, payload[:MAX_PAYLOAD], retain, content_type)
