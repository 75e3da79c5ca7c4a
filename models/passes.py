"""The verifier's judgement of one health pass, before policy and temperature."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What a pass says and whether it is authentic and current.

    `reasons` is empty when every verification step held; otherwise it names the first
    step that failed (PROTOCOL.md section 1). Claims are filled as far as they could be
    read, so a record can still show issuer and kid of a forged pass.
    """

    reasons: tuple[str, ...] = ()
    format: str | None = None       # "CP1" / "HC1" / None when unreadable
    issuer: str | None = None
    kid: str | None = None          # base64 of the key id bytes
    subject: str | None = None      # hex pseudonymous id (HC1: keyed hash)
    color: str | None = None        # "green" / "yellow" / "red"
    iat: int | None = None          # epoch seconds
    exp: int | None = None          # epoch seconds
    tested_at: int | None = None    # epoch seconds of the last negative test
    cti: str | None = None          # hex pass id (replay and revocation key)
    unit: str | None = None
    name: str | None = None         # masked display name; never stored

    @property
    def valid(self) -> bool:
        return not self.reasons
