"""A resident roster bundle (PROTOCOL section 3, kind `roster`) signed with a demo root."""

from __future__ import annotations

import json
import time
from pathlib import Path

from models.bundle import sign_bundle
from models.keys import load_private_key
from models.timefmt import rfc3339


def roster_bundle(folder: Path, version: int, subjects: list[str],
                  unit: str = "3-2-401") -> bytes:
    """`folder` holds demo/root-key.pem (a config folder made by scripts/make_demo.py)."""
    root = load_private_key((folder / "demo" / "root-key.pem").read_bytes())
    now = time.time()
    payload = {"version": version, "issued": rfc3339(now - 60),
               "next_update": rfc3339(now + 86400),
               "subjects": [{"sub": sub, "unit": unit} for sub in subjects]}
    return json.dumps(sign_bundle("roster", payload, root)).encode()
