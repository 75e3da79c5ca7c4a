"""Push signed bundles to devices, retained, so a device that connects later still gets them.

Topics (PROTOCOL.md section 5): the trust list and revocations on `{root}/district/...`
for every device; a policy or roster on one device's `{root}/{device}/config`. The district
only forwards bundles already signed (`checkpoint bundle sign`), and checks the signature
first: a device would refuse a bad one, and a retained bad bundle would stay on the broker.
"""

from __future__ import annotations

import threading
import uuid
from urllib.parse import urlsplit

from models.wire import QOS, Topics
from runtime.mqtt import make_client, port_of


class PublishError(Exception):
    """The broker did not take the bundle; the message says why."""


def bundle_topic(root: str, kind: str, device: str | None) -> str:
    """Where a bundle of `kind` goes; a policy or roster needs a device."""
    topics = Topics(root)
    return topics.config(device) if device else topics.district(kind)


def publish_retained(mqtt_url: str, tls: dict | None, topic: str, payload: bytes,
                     timeout: float = 10.0) -> None:
    """Publish once at QoS 1 with retain; return when the broker has PUBACKed it."""
    url = urlsplit(mqtt_url)
    client = make_client(url, client_id=f"district-publish-{uuid.uuid4().hex[:12]}", tls=tls)
    done = threading.Event()
    outcome: dict = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            outcome["error"] = f"broker refused the connection: {reason_code}"
            done.set()
            return
        client.publish(topic, payload, qos=QOS, retain=True)

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:
            outcome["error"] = f"broker refused the publish on {topic}: {reason_code}"
        done.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(url.hostname, port_of(url), keepalive=30)
    except OSError as exc:
        raise PublishError(f"cannot reach {url.hostname}:{port_of(url)}: {exc}") from None
    client.loop_start()
    try:
        if not done.wait(timeout):
            raise PublishError(f"no answer from the broker within {timeout:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
    if "error" in outcome:
        raise PublishError(outcome["error"])
