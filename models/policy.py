"""Gate policy: the rules the district pushes (PROTOCOL.md section 3, kind "policy")."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

VISITOR_MODES = ("allow", "register", "deny")
CARD_MODES = ("off", "residents", "required")    # PROTOCOL.md section 9
COLORS = ("green", "yellow", "red")
# Sane bounds of a policy's numbers (key -> (low, high)); a signed policy outside them is
# refused and the one in force stays.
BOUNDS = {
    "fever_threshold_c": (37.0, 38.5),      # screening thresholds in use: 37.3 to 38.0
    "remeasure_band_c": (0.0, 1.0),
    "max_pass_lifetime_s": (30, 3600),      # a CP1 pass lives minutes
    "replay_window_s": (0, 86400),
    "max_test_age_h": (1, 24 * 30),         # null: no test needed
    # A tap and a code belong together within seconds; a window of minutes would pair a
    # pass with the card of whoever tapped long before.
    "card_window_s": (1, 120),
}


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
    card: str = "off"
    card_window_s: float = 10
    require_pass: bool = True

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
        """Raise PolicyError naming the first key whose value is outside sane bounds.

        The bounds keep a signed but mistaken (or stolen-key) policy from stopping the gate:
        a threshold that calls every healthy person feverish or lets every fever pass, a
        pass lifetime under which no pass is ever valid, or colours that refuse green."""
        for key, (low, high) in BOUNDS.items():
            value = getattr(self, key)
            if value is not None or key != "max_test_age_h":
                _number(value, key, low, high)
        colors = self.allow_colors
        bad = [c for c in colors if c not in COLORS]
        if bad or len(set(colors)) != len(colors):
            raise PolicyError(f"policy: allow_colors = {list(colors)!r}; allowed: each of "
                              f"{', '.join(COLORS)} at most once")
        if "green" not in colors:
            raise PolicyError("policy: allow_colors must include green (a valid green pass "
                              "is always allowed)")
        for key in ("operator_override", "require_synced_clock", "require_pass"):
            if not isinstance(getattr(self, key), bool):
                raise PolicyError(f"policy: {key} must be true or false")
        if self.visitors not in VISITOR_MODES:
            raise PolicyError(
                f"policy: visitors = {self.visitors!r}; allowed: {', '.join(VISITOR_MODES)}")
        self._check_cards()

    def _check_cards(self) -> None:
        if self.card not in CARD_MODES:
            raise PolicyError(f"policy: card = {self.card!r}; allowed: {', '.join(CARD_MODES)}")
        if not self.require_pass and self.card == "off":
            # Meant to let a bound card alone pass, it would do nothing with cards ignored:
            # refused, so the district learns of the mistake instead of the gate.
            raise PolicyError("policy: require_pass = false needs card = \"residents\" or "
                              "\"required\" (with card = \"off\" cards are ignored)")


def _number(value: Any, key: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"policy: {key} = {value!r}; allowed: a number from {low} to {high}")
