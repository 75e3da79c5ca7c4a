"""The MQTT contract between a device and the district (PROTOCOL.md section 5), written once.

The agent's uplink and the district's receiver and publisher both take their topics,
schema ids and content types from here, so the two sides cannot drift apart. The record
itself (field table and types) is in models/records.py.

    cp/v1/{device}/records      up      batch
    cp/v1/{device}/ack          down    ack
    cp/v1/{device}/status       up      status (retained; also the last will)
    cp/v1/{device}/config       down    signed policy / roster bundle (retained)
    cp/v1/district/trustlist    down    signed trust list (retained)
    cp/v1/district/revocations  down    signed revocations (retained)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "cp/v1"
QOS = 1
SCHEMA_BATCH = "checkpoint.batch/1"
SCHEMA_ACK = "checkpoint.ack/1"
SCHEMA_STATUS = "checkpoint.status/1"
CONTENT_JSON = "application/json"
CONTENT_ZLIB = "application/json+zlib"    # a batch may be zlib-compressed JSON
DISTRICT_KINDS = ("trustlist", "revocations")   # bundles for every device
RECEIVER_GROUP = "district"     # shared subscription group of the district's receivers

_LEVEL = r"[A-Za-z0-9_.-]+"
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def topic_root_problem(root: str) -> str | None:
    """None for a usable topic root (levels without wildcards), else what is allowed."""
    ok = re.fullmatch(rf"{_LEVEL}(/{_LEVEL})*", root)
    return None if ok else "allowed: topic levels without wildcards, e.g. cp/v1"


def identity_problem(name: str) -> str | None:
    """A broker identity (certificate CN) is one topic level: no wildcards, no separators."""
    ok = isinstance(name, str) and _DEVICE_ID.fullmatch(name)
    return None if ok else "allowed: letters, digits, '-', '_', '.', at most 64 characters"


def is_district_identity(name: str) -> bool:
    """`district` and `district-NAME` are the district's own identities (receivers,
    publisher); `district` is also the topic level of the bundles for every device."""
    return name == RECEIVER_GROUP or name.startswith(RECEIVER_GROUP + "-")


def device_id_problem(device: str) -> str | None:
    """A device id is an identity that is not the district's: a device called `district`
    would publish on the bundles' level, where no receiver looks for records."""
    if problem := identity_problem(device):
        return problem
    if is_district_identity(device):
        return f"{RECEIVER_GROUP!r} and '{RECEIVER_GROUP}-...' are the district's own names"
    return None


@dataclass(frozen=True)
class Topics:
    root: str = ROOT

    def records(self, device: str) -> str:
        return f"{self.root}/{device}/records"

    def ack(self, device: str) -> str:
        return f"{self.root}/{device}/ack"

    def status(self, device: str) -> str:
        return f"{self.root}/{device}/status"

    def config(self, device: str) -> str:
        return f"{self.root}/{device}/config"

    def district(self, kind: str) -> str:
        """Where a trust list or revocations bundle for every device is published."""
        if kind not in DISTRICT_KINDS:
            raise ValueError(f"a {kind} bundle is per device: name the device")
        return f"{self.root}/district/{kind}"

    def bundles(self, device: str) -> tuple[str, ...]:
        """Every topic a device takes signed bundles from."""
        return (*(self.district(kind) for kind in DISTRICT_KINDS), self.config(device))

    def all_records(self) -> str:
        """Every device's batches, shared among the district's receivers."""
        return f"$share/{RECEIVER_GROUP}/{self.root}/+/records"

    def all_status(self) -> str:
        return f"{self.root}/+/status"

    def split(self, topic: str) -> tuple[str, str] | None:
        """`cp/v1/dev-1/records` -> ("dev-1", "records"); None for a topic of no device."""
        if not topic.startswith(self.root + "/"):
            return None
        levels = topic[len(self.root) + 1:].split("/")
        if len(levels) != 2 or levels[0] == "district":
            return None
        return levels[0], levels[1]
