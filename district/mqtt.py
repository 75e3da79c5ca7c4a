"""The district's MQTT 5 client: one place that turns `[mqtt]` settings into a paho client."""

from __future__ import annotations

import uuid
from urllib.parse import SplitResult


def make_client(url: SplitResult, tls: dict | None, prefix: str = "district"):
    """A paho 2.x MQTT 5 client for `url` (mqtt:// or mqtts://), not yet connected.

    `tls` holds ca / cert / key paths; with a client certificate the broker takes its CN
    as the username (config/mosquitto/production.conf), so the CN must be "district".
    """
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"{prefix}-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv5)
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.scheme == "mqtts" or tls:
        tls = tls or {}
        client.tls_set(*(None if tls.get(k) is None else str(tls[k])
                         for k in ("ca", "cert", "key")))
    return client


def port_of(url: SplitResult) -> int:
    return url.port or (8883 if url.scheme == "mqtts" else 1883)
