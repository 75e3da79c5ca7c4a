"""Generate the demo district's keys and signed bundles: `python scripts/make_demo.py DIR`.

Writes DIR/root-key.pem, DIR/root-pub.pem (the root that signs bundles),
DIR/issuer-key.pem, DIR/issuer-pub.pem (the key that signs passes) and the signed
DIR/trustlist.json (written last, with the district's HC1 subject key),
DIR/revocations.json and DIR/policy.json. Does nothing when
DIR/trustlist.json already exists, so a re-run never replaces keys in use.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from models.bundle import sign_bundle
from models.keys import kid_b64, kid_of, new_private_key, private_pem, public_pem, spki_der
from models.policy import Policy
from models.timefmt import rfc3339

ISSUER = "CN-BJ-110105"
VALID_YEARS = 10
_YEAR_S = 365 * 86400


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)


def _policy_payload() -> dict:
    # a development machine may not report its NTP state (PROTOCOL.md section 3)
    payload = dataclasses.asdict(Policy(require_synced_clock=False))
    payload["allow_colors"] = list(payload["allow_colors"])
    return payload


def make_demo(folder: Path) -> bool:
    """Create the demo district in `folder`; False when it is already there."""
    if (folder / "trustlist.json").exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    root, issuer = new_private_key(), new_private_key()
    for name, key in (("root", root), ("issuer", issuer)):
        _write(folder / f"{name}-key.pem", private_pem(key), private=True)
        _write(folder / f"{name}-pub.pem", public_pem(key.public_key()))
    now = time.time()
    meta = {"version": 1, "issued": rfc3339(now),
            "next_update": rfc3339(now + VALID_YEARS * _YEAR_S)}
    entry = {"kid": kid_b64(kid_of(issuer.public_key())), "iss": ISSUER,
             "spki": base64.b64encode(spki_der(issuer.public_key())).decode("ascii"),
             "not_before": "2025-01-01T00:00:00.000Z", "not_after": meta["next_update"]}
    bundles = {"revocations": {**meta, "cti": [], "sub": []},
               "policy": {**meta, **_policy_payload()},
               "trustlist": {**meta, "keys": [entry]}}   # last: its presence marks done
    # The district's secret for keyed HC1 subject hashes: provisioned to devices, never
    # published in a bundle (docs/decisions.md).
    _write(folder / "subject.key", base64.b64encode(os.urandom(32)) + b"\n", private=True)
    # The card key (PROTOCOL.md section 9): raw bytes, as `head -c 32 /dev/urandom` makes.
    _write(folder / "card.key", os.urandom(32), private=True)
    for kind, payload in bundles.items():
        envelope = sign_bundle(kind, payload, root)
        _write(folder / f"{kind}.json", (json.dumps(envelope, indent=2) + "\n").encode())
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/make_demo.py DIR", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    made = make_demo(folder)
    print(f"demo district {'written to' if made else 'already in'} {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
