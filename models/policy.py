"""Gate policy: the rules the district pushes (PROTOCOL.md section 3, kind "policy")."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

VISITOR_MODES = ("allow", "register", "deny")
COLORS = ("green", "yellow", "red")


class PolicyError(ValueError):
    """A policy payload that names a bad key or value."""


@dataclass(frozen=True)
class Policy:
    fever_threshold_c: float = 37.3
    remeasure_band_c: float = 0.3
    allow_colors: tuple[str, ...] = ("green",)
    max_test_age_h: float | None = None
    max_pass_lifetime_s: int = 300
    replay_window_s: int = 600
    operator_override: bool = True
    require_synced_clock: bool = True
    visitors: str = "register"

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Policy:
        """Build from a policy bundle payload; bundle metadata keys are ignored."""
        known = {f.name for f in fields(cls)}
        meta = {"version", "issued", "next_update"}
        unknown = sorted(set(payload) - known - meta)
        if unknown:
            raise PolicyError(f"policy: unknown key(s) {', '.join(unknown)}")
        values = {k: v for k, v in payload.items() if k in known}
        if "allow_colors" in values:
            values["allow_colors"] = tuple(values["allow_colors"] or ())
        policy = cls(**values)
        policy.check()
        return policy

    def check(self) -> None:
        """Raise PolicyError naming the first key whose value is not allowed."""
        _number(self.fever_threshold_c, "fever_threshold_c", 30.0, 45.0)
        _number(self.remeasure_band_c, "remeasure_band_c", 0.0, 5.0)
        _number(self.max_pass_lifetime_s, "max_pass_lifetime_s", 1, 7 * 86400)
        _number(self.replay_window_s, "replay_window_s", 0, 7 * 86400)
        if self.max_test_age_h is not None:
            _number(self.max_test_age_h, "max_test_age_h", 0, 24 * 365)
        bad = [c for c in self.allow_colors if c not in COLORS]
        if bad:
            raise PolicyError(f"policy: allow_colors has {bad!r}; allowed: {', '.join(COLORS)}")
        for key in ("operator_override", "require_synced_clock"):
            if not isinstance(getattr(self, key), bool):
                raise PolicyError(f"policy: {key} must be true or false")
        if self.visitors not in VISITOR_MODES:
            raise PolicyError(
                f"policy: visitors = {self.visitors!r}; allowed: {', '.join(VISITOR_MODES)}")


def _number(value: Any, key: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"policy: {key} = {value!r}; allowed: a number from {low} to {high}")
