"""Configs changed the way a test needs them."""

from __future__ import annotations

from dataclasses import replace

from edge.config import Config, Section


def with_mqtt(config: Config, url: str) -> Config:
    """The same config, delivering to the broker at `url`."""
    return replace(config, mqtt=Section({**config.mqtt.values, "url": url}))
