"""The `verify` section of `checkpoint bench`: passes verified per second in one process,
and how fast hostile input is refused (a zlib bomb, a 1 MB text).

Throughput is `verify_pass` called in a loop on one valid pass, the whole pipeline
(Base45, inflate, COSE, claims, signature, time rules). The HC1 row uses the first EU test
vector that is valid at its own validation clock, when the shared corpus is present
(healthpass/dgc-testdata, see bench/corpus.py); without it the HC1 rows are left out.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import zlib

from bench.corpus import corpus_dir
from models.base45 import b45encode

# May be absent (other projects' data, outside the repository): no HC1 rows then.
DCC_CORPUS = corpus_dir() / "healthpass" / "dgc-testdata"
VERIFY_SECONDS = 1.0            # per throughput row
REJECT_RUNS = 30
ONE_MB = 1 << 20


def _cp1_case():
    import base64

    from models.cp1 import issue_cp1
    from models.keys import kid_b64, kid_of, new_private_key, spki_der
    from models.trust import TrustStore

    key = new_private_key()
    now = int(time.time())
    text = issue_cp1(key, iss="CN-BJ-110105", color="green", iat=now, exp=now + 120,
                     sub=os.urandom(16), cti=os.urandom(16))
    entry = {"kid": kid_b64(kid_of(key.public_key())), "iss": "CN-BJ-110105",
             "spki": base64.b64encode(spki_der(key.public_key())).decode()}
    return text, TrustStore.from_payloads({"keys": [entry]}), now


def _hc1_case(alg: int):
    """(text, trust, clock, name) of the first corpus vector valid under `alg`, or None."""
    from models.timefmt import parse_rfc3339
    from models.trust import TrustDataError, TrustStore
    from models.verify import verify_pass

    if not DCC_CORPUS.is_dir():
        return None
    for path in sorted(DCC_CORPUS.glob("common/2DCode/raw/CO*.json")) + sorted(
            DCC_CORPUS.glob("*/2DCode/raw/*.json")):
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        try:
            trust = TrustStore.from_payloads({"keys": [{"cert": data["TESTCTX"]["CERTIFICATE"]}]})
            now = parse_rfc3339(data["TESTCTX"]["VALIDATIONCLOCK"])
        except (KeyError, TrustDataError, ValueError):
            continue
        if _alg(data) == alg and verify_pass(data.get("PREFIX"), trust, now).valid:
            return data["PREFIX"], trust, now, path.relative_to(DCC_CORPUS).as_posix()
    return None


def _alg(data: dict):
    import cbor2

    try:
        message = cbor2.loads(bytes.fromhex(data["COSE"]))
        return cbor2.loads(message.value[0]).get(1)
    except Exception:       # vectors without a readable COSE field are not candidates
        return None


def _throughput(text: str, trust, now: float, seconds: float) -> dict:
    from models.verify import verify_pass

    first = verify_pass(text, trust, now)
    if not first.valid:     # a bench of refusals would measure the wrong path
        return {"passes": 0, "per_s": 0, "error": ",".join(first.reasons)}
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            verify_pass(text, trust, now)
        count += 50
    return {"passes": count, "per_s": round(count / elapsed)}


def _rejection(text: str, trust, now: float) -> dict:
    from models.verify import verify_pass

    times = []
    for _ in range(REJECT_RUNS):
        started = time.perf_counter()
        verdict = verify_pass(text, trust, now)
        times.append((time.perf_counter() - started) * 1000.0)
    return {"reason": verdict.reasons[0] if verdict.reasons else None,
            "median_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3)}


def measure_verify(seconds: float = VERIFY_SECONDS) -> dict:
    """Throughput rows (each run for `seconds`) and hostile-input rejection times."""
    text, trust, now = _cp1_case()
    rows = {"CP1 ES256": _throughput(text, trust, now, seconds)}
    for name, alg in (("HC1 ES256", -7), ("HC1 PS256", -37)):
        case = _hc1_case(alg)
        if case is not None:
            rows[name] = {**_throughput(*case[:3], seconds), "vector": case[3]}
    # 5 MiB of zeros in 5 KB: a complete stream as large as fits the text length cap
    bomb_text = b45encode(zlib.compress(bytes(5 << 20), 9))
    hostile = {"zlib bomb CP1": "CP1:" + bomb_text, "zlib bomb HC1": "HC1:" + bomb_text,
               "1 MB CP1 text": "CP1:" + "A" * ONE_MB, "1 MB random": os.urandom(ONE_MB)}
    rejects = {name: _rejection(value, trust, now) for name, value in hostile.items()}
    return {"throughput": rows, "rejections": rejects}


def show_verify(figures: dict) -> None:
    print("Pass verification in one process (verify_pass in a loop, whole pipeline)")
    for name, row in figures["throughput"].items():
        vector = f"  ({row['vector']})" if "vector" in row else ""
        print(f"  {name:<10} {row['per_s']:>7} passes/s{vector}")
    print("Hostile input, time to refuse (must stay well under 50 ms)")
    for name, row in figures["rejections"].items():
        print(f"  {name:<14} {row['reason']:<15} median {row['median_ms']:.3f} ms  "
              f"max {row['max_ms']:.3f} ms")
    print()
