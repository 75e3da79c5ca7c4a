"""Issuer key rotation in a trust list payload: two signing keys live at once for a while.

The new key is listed from now on; the issuer's current keys stay listed but end at
`now + overlap`, so passes signed by either key verify during the overlap (a gate that
has not yet fetched the new list keeps working) and only the new key's afterwards.
"""

from __future__ import annotations

import base64
import copy

from models.keys import kid_b64, kid_of, spki_der
from models.timefmt import parse_rfc3339, rfc3339


class RotationError(ValueError):
    """A trust list payload that cannot be rotated as asked."""


def rotate_trustlist(payload: dict, new_public_key, *, iss: str, now: float,
                     overlap_s: float) -> tuple[dict, list[str]]:
    """The next trust list payload, and the kids (base64) of the keys it retires."""
    keys = payload.get("keys")
    if not isinstance(keys, list) or not all(isinstance(entry, dict) for entry in keys):
        raise RotationError("trust list payload has no `keys` list of objects")
    kid = kid_b64(kid_of(new_public_key))
    if any(entry.get("kid") == kid for entry in keys):
        raise RotationError(f"key {kid} is already in the trust list")
    retire_at = now + overlap_s
    rotated = copy.deepcopy(payload)
    retired = []
    for entry in rotated["keys"]:
        if entry.get("iss") == iss and _ends_after(entry.get("not_after"), retire_at):
            entry["not_after"] = rfc3339(retire_at)
            retired.append(entry.get("kid"))
    rotated["keys"].append({
        "kid": kid, "iss": iss, "not_before": rfc3339(now), "not_after": None,
        "spki": base64.b64encode(spki_der(new_public_key)).decode("ascii")})
    _next_version(rotated, now)
    return rotated, retired


def _ends_after(not_after, moment: float) -> bool:
    if not_after is not None and not isinstance(not_after, str):
        raise RotationError(f"trust list key not_after {not_after!r} is not a time")
    return not_after is None or parse_rfc3339(not_after) > moment


def _next_version(payload: dict, now: float) -> None:
    """Bump the version; keep the refresh interval the payload had (default one week)."""
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RotationError("trust list payload `version` is not an integer")
    interval = 7 * 86400.0
    if isinstance(payload.get("issued"), str) and isinstance(payload.get("next_update"), str):
        interval = parse_rfc3339(payload["next_update"]) - parse_rfc3339(payload["issued"])
    payload.update(version=version + 1, issued=rfc3339(now),
                   next_update=rfc3339(now + max(interval, 3600.0)))
