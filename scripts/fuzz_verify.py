"""Mutation fuzzer for the pass verifier: no input may make it raise.

    .venv/bin/python scripts/fuzz_verify.py [--iterations N] [--seconds S] [--seed K]

Seeds are a valid CP1 pass made here, the HC1 passes of the EU test vectors (in
healthpass/dgc-testdata of the corpus: $CHECKPOINT_CORPUS, else ../shared/corpus beside
the repository, see bench/corpus.py) and random text. Each input is a seed mutated at one
layer: the QR text, the compressed bytes, the COSE bytes, or one node of the decoded CBOR
structure, re-encoded above that layer so the mutation reaches the deep parsers. Every
input goes to `models.verify.judge`, the verifier without its catch-all, so any exception
is a crash. Prints the inputs tried, crashes (must be 0), the slowest input's time and
that input's time re-measured alone.

The test vectors are the only HC1 seeds: without the corpus no HC1 input would be made,
so the script stops (one line on stderr, exit 2) rather than report 0 crashes on CP1
alone. `fuzz()`, as a test calls it, uses them when the corpus is there.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field

import cbor2

from bench.corpus import CorpusMissing, corpus_path
from models.base45 import ALPHABET, b45decode, b45encode
from models.cose import encode_sign1
from models.cp1 import issue_cp1
from models.keys import kid_b64, kid_of, new_private_key, spki_der
from models.trust import TrustStore
from models.verify import judge

DCC = ("healthpass", "dgc-testdata")      # inside the corpus
NOW = 1_790_000_000


@dataclass
class Report:
    tried: int = 0
    crashes: list[tuple[str, str]] = field(default_factory=list)
    slowest_ms: float = 0.0
    slowest: str | bytes = ""       # the input that took slowest_ms
    slowest_retimed_ms: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


def _seeds(rng: random.Random) -> tuple[list[str], TrustStore, object]:
    import base64

    key = new_private_key()
    cp1 = issue_cp1(key, iss="CN-BJ-110105", color="green", iat=NOW - 10, exp=NOW + 100,
                    sub=rng.randbytes(16), cti=rng.randbytes(16), tested_at=NOW - 3600,
                    name="张*明", unit="1-1")
    # no `iss`: the key vouches for re-signed HC1 payloads too, so their claims are reached
    entry = {"kid": kid_b64(kid_of(key.public_key())),
             "spki": base64.b64encode(spki_der(key.public_key())).decode()}
    return [cp1, *_corpus_seeds()], TrustStore.from_payloads({"keys": [entry]}), key


def _corpus_seeds() -> list[str]:
    """The HC1 PREFIX of every 12th EU test vector; none without the corpus."""
    try:
        corpus = corpus_path(*DCC)
    except CorpusMissing:
        return []
    seeds = []
    for path in sorted(corpus.rglob("*.json"))[::12]:
        prefix = json.loads(path.read_text(encoding="utf-8-sig")).get("PREFIX")
        if isinstance(prefix, str) and prefix.startswith("HC1:"):
            seeds.append(prefix)
    return seeds


def _flip_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        at = rng.randrange(len(data) + 1)
        if choice < 0.4 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.6:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif choice < 0.8:
            del data[at:at + rng.randint(1, 8)]
        else:
            data[at:at] = data[at:at + rng.randint(1, 64)] * rng.randint(1, 50)
    return bytes(data)


def _random_value(rng: random.Random, depth: int = 0):
    kinds = [lambda: rng.randint(-2 ** 64, 2 ** 64), lambda: rng.random() * 1e12,
             lambda: rng.randbytes(rng.randint(0, 40)), lambda: "x" * rng.randint(0, 20),
             lambda: None, lambda: rng.random() < 0.5, lambda: float("nan")]
    if depth < 3:
        kinds += [lambda: [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))],
                  lambda: {rng.randint(-300, 10): _random_value(rng, depth + 1)
                           for _ in range(rng.randint(0, 4))},
                  lambda: cbor2.CBORTag(rng.choice([0, 1, 2, 18, 61, 24, 258, 999]),
                                        _random_value(rng, depth + 1))]
    return rng.choice(kinds)()


def _mutate_structure(value, rng: random.Random):
    """Replace one node of a decoded CBOR structure (bstr children are decoded too)."""
    if isinstance(value, bytes) and value[:1] in (b"\xa1", b"\xa2", b"\xa3", b"\xa4",
                                                  b"\xa5") and rng.random() < 0.7:
        try:
            return cbor2.dumps(_mutate_structure(cbor2.loads(value), rng))
        except Exception:
            return value
    if isinstance(value, cbor2.CBORTag) and rng.random() < 0.8:
        return cbor2.CBORTag(value.tag, _mutate_structure(value.value, rng))
    if isinstance(value, list | tuple) and value and rng.random() < 0.8:
        items = list(value)
        at = rng.randrange(len(items))
        items[at] = _mutate_structure(items[at], rng)
        return items
    if isinstance(value, dict) and value and rng.random() < 0.8:
        items = dict(value)
        key = rng.choice(list(items))
        items[key] = _mutate_structure(items[key], rng)
        return items
    return _random_value(rng)


def _resigned(prefix: str, message: bytes, rng: random.Random, key) -> str:
    """The seed's claims with one node replaced, validly signed by the trusted key."""
    item = cbor2.loads(message)
    body = item.value if isinstance(item, cbor2.CBORTag) else item
    payload = cbor2.dumps(_mutate_structure(cbor2.loads(body[2]), rng))
    signed = encode_sign1(key, payload, kid_of(key.public_key()))
    return prefix + b45encode(zlib.compress(signed))


def mutate(seed: str, rng: random.Random, key) -> str | bytes:
    prefix, body = seed[:4], seed[4:]
    layer = rng.random()
    try:
        compressed = b45decode(body)
        message = zlib.decompress(compressed)
    except Exception:
        layer = 0.0
    if layer < 0.2:
        chars = list(body)
        for _ in range(rng.randint(1, 5)):
            at = rng.randrange(len(chars) + 1)
            chars[at:at + rng.randint(0, 2)] = rng.choice(ALPHABET + "é\x00a")
        return prefix + "".join(chars)
    if layer < 0.35:
        return prefix + b45encode(_flip_bytes(compressed, rng))
    if layer < 0.55:
        return prefix + b45encode(zlib.compress(_flip_bytes(message, rng)))
    if layer < 0.75:
        return _resigned(prefix, message, rng, key)
    if layer < 0.95:
        structure = _mutate_structure(cbor2.loads(message), rng)
        return prefix + b45encode(zlib.compress(cbor2.dumps(structure)))
    return rng.choice([rng.randbytes(rng.randint(0, 300)), "".join(
        rng.choice(ALPHABET) for _ in range(rng.randint(0, 4000)))])


def _retime(text: str | bytes, trust: TrustStore) -> float:
    """Median of 9 runs of the slowest input alone: a shared machine's scheduling pauses
    inflate the slowest single time, this says whether the input itself is slow."""
    times = []
    for _ in range(9):
        started = time.perf_counter()
        judge(text, trust, NOW)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


def fuzz(iterations: int | None, seconds: float | None, seed: int = 1) -> Report:
    rng = random.Random(seed)
    seeds, trust, key = _seeds(rng)
    report = Report()
    deadline = None if seconds is None else time.monotonic() + seconds
    while (iterations is None or report.tried < iterations) and (
            deadline is None or time.monotonic() < deadline):
        try:
            text = mutate(rng.choice(seeds), rng, key)
        except Exception:   # a mutation that cannot be re-encoded: draw another
            continue
        started = time.perf_counter()
        try:
            verdict = judge(text, trust, NOW)
            reason = verdict.reasons[0] if verdict.reasons else "valid"
            report.reasons[reason] = report.reasons.get(reason, 0) + 1
        except Exception:
            report.crashes.append((repr(text)[:200], traceback.format_exc(limit=3)))
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms > report.slowest_ms:
            report.slowest_ms, report.slowest = elapsed_ms, text
        report.tried += 1
    report.slowest_retimed_ms = _retime(report.slowest, trust)
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, help="inputs to try (default: 20000)")
    parser.add_argument("--seconds", type=float, help="stop after S seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        corpus_path(*DCC)
    except CorpusMissing as missing:
        print(f"fuzz_verify: {missing}", file=sys.stderr)
        return 2
    iterations = args.iterations or (None if args.seconds else 20000)
    report = fuzz(iterations, args.seconds, args.seed)
    print(json.dumps({"inputs": report.tried, "crashes": len(report.crashes),
                      "slowest_ms": round(report.slowest_ms, 2),
                      "slowest_retimed_ms": round(report.slowest_retimed_ms, 2),
                      "reasons": dict(sorted(report.reasons.items()))}))
    for text, trace in report.crashes[:5]:
        print(f"CRASH on {text}\n{trace}", file=sys.stderr)
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
