"""What the simulated sensor looks at: a profile's object temperature over time.

`normal` a person at 36.6 °C, `fever` 38.4 °C, `edge` 37.3 °C (the default threshold),
`walk` a person stepping up, standing and walking away every WALK_PERIOD_S (a single-spot
sensor sees the blend of face and background; an array sees the face grow and shrink),
`fault` a sensor that falls silent. Readings carry ±0.1 °C of noise, as an MLX90614 does.
"""

from __future__ import annotations

import random

PROFILES = ("normal", "fever", "walk", "edge", "fault")
WALK_PERIOD_S = 6.0
BACKGROUND_C = 24.0
PERSON_C = 36.6


def person_c(rng: random.Random, celsius: float = PERSON_C) -> float:
    return celsius + rng.uniform(-0.1, 0.1)


def profile_temperature(profile: str, elapsed: float, rng: random.Random) -> float:
    """The object temperature a profile reports `elapsed` seconds after the start."""
    if profile == "fever":
        return person_c(rng, 38.4)
    if profile == "edge":
        return person_c(rng, 37.3)
    if profile == "walk":
        blend = nearness_at(elapsed % WALK_PERIOD_S)
        return person_c(rng, BACKGROUND_C + (PERSON_C - BACKGROUND_C) * blend)
    return person_c(rng)


def nearness_at(phase: float) -> float:
    """0 (nobody) to 1 (at the gate): steps up, stands, walks away."""
    return min(max(phase - 1.5, 0.0), 0.5, max(4.5 - phase, 0.0)) / 0.5
