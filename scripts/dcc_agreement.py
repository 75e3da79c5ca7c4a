"""Run the EU DCC test vectors (dgc-testdata) through our verifier and compare each flag.

    .venv/bin/python scripts/dcc_agreement.py [DGC_TESTDATA_DIR] [--details]

DGC_TESTDATA_DIR defaults to healthpass/dgc-testdata of the corpus: $CHECKPOINT_CORPUS,
else ../shared/corpus beside the repository (bench/corpus.py). Without it: one line, exit 2.

Each `*/2DCode/raw/*.json` vector names the stage it tests with an EXPECTED* flag (see
the dgc-testdata README). Every covered flag is judged by the verifier's own stage
function on the vector's input for that stage (or on the chain from PREFIX when that
input is absent; the picture flag by the gate's QR decoder on the embedded PNG), with the
signer certificate from TESTCTX.CERTIFICATE as the only trust
list entry and TESTCTX.VALIDATIONCLOCK as the time. Known data defects (PROVENANCE.md)
are expected disagreements; anything else that disagrees is a verifier bug.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cbor2

from bench.corpus import CorpusMissing, given_path
from models import cose, hc1
from models.base45 import b45decode
from models.timefmt import parse_rfc3339
from models.trust import TrustDataError, TrustStore
from models.verify import (
    CLOCK_SKEW_S,
    FORMATS,
    candidate_keys,
    check_header,
    inflate,
    signed_by,
    split_prefix,
    verify_pass,
)

DCC = ("healthpass", "dgc-testdata")      # inside the corpus
FLAGS = ("EXPECTEDPICTUREDECODE", "EXPECTEDUNPREFIX", "EXPECTEDB45DECODE",
         "EXPECTEDCOMPRESSION", "EXPECTEDDECODE", "EXPECTEDVERIFY", "EXPECTEDKEYUSAGE",
         "EXPECTEDEXPIRATIONCHECK")
# Flags of stages (schema, JSON form, encoding) that a gate's verifier does not perform.
NOT_COVERED = ("EXPECTEDSCHEMAVALIDATION", "EXPECTEDVALIDJSON", "EXPECTEDENCODE",
               "EXPECTEDVALIDOBJECT")
# The five data defects of PROVENANCE.md: (path pattern, flag) a correct verifier disagrees on.
KNOWN_DEFECTS = (
    ("ES/2DCode/raw/40[123].json", "EXPECTEDVERIFY"),        # 96-byte ES256 signature
    ("IS/2DCode/raw/3.json", "EXPECTEDKEYUSAGE"),            # no EKU = every type
    ("PL/1.3.0/2DCode/raw/6.json", "EXPECTEDEXPIRATIONCHECK"),  # exp after DSC notAfter
    # These two do not show: models/der.py reads the FI DSCs' key usage itself, and the NL
    # schema flag is not one this verifier judges. Listed so that no other entry can hide.
    ("FI/2DCode/raw/*.json", "EXPECTEDKEYUSAGE"),            # DSC extensions unparseable
    ("NL/*", "EXPECTEDSCHEMAVALIDATION"),                    # lenient schema
)
HC1_FORMAT = next(fmt for fmt in FORMATS if fmt.name == "HC1")


@dataclass(frozen=True)
class Outcome:
    vector: str                 # path relative to the corpus
    flag: str
    expected: bool
    actual: bool

    @property
    def agrees(self) -> bool:
        return self.expected == self.actual

    @property
    def known_defect(self) -> bool:
        return any(fnmatch.fnmatch(self.vector, pattern) and flag == self.flag
                   for pattern, flag in KNOWN_DEFECTS)


def vector_paths(root: Path) -> list[Path]:
    """Every raw vector; the IE folder spells it `Raw`."""
    return sorted(path for path in root.rglob("*.json")
                  if path.parent.name.lower() == "raw" and path.parent.parent.name == "2DCode")


class Stages:
    """The verifier's stages applied to one vector; each returns a value or raises."""

    def __init__(self, data: dict) -> None:
        self.data = data
        context = data.get("TESTCTX", {})
        self.now = parse_rfc3339(context["VALIDATIONCLOCK"])
        try:
            self.trust = TrustStore.from_payloads({"keys": [{"cert": context["CERTIFICATE"]}]})
        except TrustDataError:
            self.trust = TrustStore()

    def _hex(self, name: str) -> bytes | None:
        value = self.data.get(name)
        return bytes.fromhex(value) if isinstance(value, str) and value else None

    def body(self) -> str:
        fmt, body = split_prefix(self.data["PREFIX"])
        if fmt.name != "HC1":
            raise ValueError("not HC1")
        return body

    def compressed(self) -> bytes:
        text = self.data.get("BASE45")
        return b45decode(text if isinstance(text, str) else self.body())

    def cose_bytes(self) -> bytes:
        compressed = self._hex("COMPRESSED")
        return inflate(self.compressed() if compressed is None else compressed,
                       hc1.MAX_INFLATED_BYTES)

    def message(self) -> cose.Sign1:
        raw = self._hex("COSE")
        message = cose.parse_sign1(self.cose_bytes() if raw is None else raw)
        check_header(message, HC1_FORMAT)
        return message

    def claims(self) -> hc1.Claims:
        return hc1.parse_claims(self.message().payload)

    def signer(self):
        message = self.message()
        return signed_by(message, candidate_keys(message, self.trust, None))

    def dsc(self):
        """The signer, or else the TESTCTX certificate: key usage and validity are its own."""
        keys = [key for same_kid in self.trust.keys.values() for key in same_kid]
        return self.signer() or (keys[0] if keys else None)


def _equal_or_absent(actual: bytes, expected: bytes | None) -> bool:
    return expected is None or actual == expected


@functools.cache
def _qr_decoder():
    from drivers.qr import make_decoder

    return make_decoder("auto")


def _picture(data: dict) -> bool | None:
    """The gate's QR decoder on the vector's PNG; None when the vector carries no picture."""
    import base64

    import cv2
    import numpy as np

    png = data.get("2DCODE")
    if not isinstance(png, str) or not png:
        return None
    image = cv2.imdecode(np.frombuffer(base64.b64decode(png), np.uint8), cv2.IMREAD_GRAYSCALE)
    return image is not None and data["PREFIX"] in _qr_decoder().decode(image)


def _judge(stages: Stages, flag: str) -> bool | None:
    data = stages.data
    if flag == "EXPECTEDPICTUREDECODE":
        return _picture(data)
    if flag == "EXPECTEDUNPREFIX":
        base45 = data.get("BASE45")
        return stages.body() == base45 if isinstance(base45, str) else bool(stages.body())
    if flag == "EXPECTEDB45DECODE":
        return _equal_or_absent(stages.compressed(), stages._hex("COMPRESSED"))
    if flag == "EXPECTEDCOMPRESSION":
        return _equal_or_absent(stages.cose_bytes(), stages._hex("COSE"))
    if flag == "EXPECTEDDECODE":
        payload = cbor2.loads(stages.message().payload)
        stages.claims()
        expected = stages._hex("CBOR")
        # the CBOR field holds the whole CWT payload in some vectors, the hcert in others
        dcc = payload[hc1.CLAIM_HCERT][hc1.HCERT_V1]
        return expected is None or cbor2.loads(expected) in (payload, dcc)
    if flag == "EXPECTEDVERIFY":
        return stages.signer() is not None
    if flag == "EXPECTEDKEYUSAGE":
        key = stages.dsc()
        return key is not None and hc1.usage_allows(key, stages.claims().kind)
    return _current(stages)


def _current(stages: Stages) -> bool:
    """EXPECTEDEXPIRATIONCHECK: the verifier's time rules and the DSC validity at the clock."""
    claims, now, key = stages.claims(), stages.now, stages.dsc()
    in_time = claims.iat <= now + CLOCK_SKEW_S and now <= claims.exp + CLOCK_SKEW_S
    return (in_time and key is not None and key.valid_at(now)
            and hc1.within_key_validity(key, claims))


def judge_vector(path: Path, root: Path) -> list[Outcome]:
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    expected = data.get("EXPECTEDRESULTS") or {}
    stages = Stages(data)
    outcomes = []
    for flag in FLAGS:
        if not isinstance(expected.get(flag), bool):
            continue
        try:
            actual = _judge(stages, flag)
        except Exception:  # a stage refusing its input is the answer "fails"
            actual = False
        if actual is not None:     # None: the stage's input is not in this vector
            outcomes.append(Outcome(path.relative_to(root).as_posix(), flag, expected[flag],
                                    bool(actual)))
    return outcomes


def passes_verifier(path: Path) -> bool:
    """Does the whole-chain verifier pass this vector's PREFIX at its validation clock?"""
    stages = Stages(json.loads(path.read_text(encoding="utf-8-sig")))
    return verify_pass(stages.data["PREFIX"], stages.trust, stages.now).valid


def agreement_table(outcomes: list[Outcome], vectors: int) -> list[dict]:
    """Per flag: vectors that agree, disagree (known defects apart), and n.a. (the vector
    does not set the flag, or lacks the stage's input: 29 carry no PNG)."""
    rows = []
    for flag in FLAGS:
        mine = [o for o in outcomes if o.flag == flag]
        counts = Counter("agree" if o.agrees else "known" if o.known_defect else "disagree"
                         for o in mine)
        rows.append({"flag": flag, "agree": counts["agree"], "disagree": counts["disagree"],
                     "known_defect": counts["known"], "n.a.": vectors - len(mine)})
    return rows


def print_table(rows: list[dict], vectors: int) -> None:
    print(f"EU DCC test vectors: {vectors}")
    print(f"{'flag':<26} {'agree':>6} {'disagree':>9} {'known defect':>13} {'n.a.':>6}")
    for row in rows:
        print(f"{row['flag']:<26} {row['agree']:>6} {row['disagree']:>9} "
              f"{row['known_defect']:>13} {row['n.a.']:>6}")
    print(f"not judged here: {', '.join(NOT_COVERED)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path,
                        help="default: healthpass/dgc-testdata in $CHECKPOINT_CORPUS, "
                             "else in ../shared/corpus")
    parser.add_argument("--details", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    try:
        corpus = given_path(args.corpus, *DCC)
    except CorpusMissing as missing:
        print(f"dcc_agreement: {missing}", file=sys.stderr)
        return 2
    paths = vector_paths(corpus)
    if not paths:
        print(f"dcc_agreement: no test vectors (*/2DCode/raw/*.json) under {corpus}",
              file=sys.stderr)
        return 2
    outcomes = [o for path in paths for o in judge_vector(path, corpus)]
    print_table(agreement_table(outcomes, len(paths)), len(paths))
    if args.details:
        for o in outcomes:
            if not o.agrees:
                note = "known defect" if o.known_defect else "DISAGREES"
                print(f"  {o.vector} {o.flag}: expected {o.expected}, got {o.actual} ({note})")
    return 0 if all(o.agrees or o.known_defect for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
