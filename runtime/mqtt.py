"""The one place that turns `[mqtt]` settings into a paho MQTT 5 client (paho imported lazily).

The device's uplink and the district's receiver and publisher all connect through
`make_client`. Callbacks run on paho's network thread, where an exception would end
that thread for good (paho re-raises callback errors by default): `guarded` wraps each
callback so a bad message is logged and the thread goes on, and `network_alive` lets a
supervisor see the thread itself.

Every socket a client opens has Nagle's algorithm off (TCP_NODELAY): MQTT's small
packets (a PUBACK, an ack, a batch's last segment) would otherwise wait up to 40 ms for
the peer's delayed ACK, and a device draining its backlog waits on each ack. Neither paho
nor the broker turns it off by default; the shipped Mosquitto configs set
`set_tcp_nodelay true` for the broker's side.

A client may be given several brokers (`[mqtt] url` then `[mqtt] failover`): `Brokers`
connects to the first and, each time paho's reconnect to the current one fails, points the
client at the next (round robin), so paho's own reconnect loop and backoff do the rest.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

from runtime import logs


def port_of(url: SplitResult) -> int:
    return url.port or (8883 if url.scheme == "mqtts" else 1883)


def make_client(url: SplitResult, *, client_id: str, tls: dict | None = None):
    """A paho 2.x MQTT 5 client for `url` (mqtt:// or mqtts://), not yet connected.

    `tls` holds `ca` / `cert` / `key` paths; an mqtts:// URL without them uses the system's
    CA store. A file that is missing or not what it claims to be raises OSError or
    ssl.SSLError here, before any connection is tried.
    """
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_socket_open = guarded("on_socket_open", no_delay)
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.scheme == "mqtts" or tls:
        files = tls or {}
        client.tls_set(*(None if files.get(k) is None else str(files[k])
                         for k in ("ca", "cert", "key")))
    return client


def no_delay(client, userdata, sock) -> None:
    """paho's on_socket_open: turn Nagle's algorithm off on the new connection."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def guarded(name: str, callback: Callable) -> Callable:
    """`callback`, but an exception in it is logged instead of ending paho's thread."""

    @functools.wraps(callback)
    def call(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as exc:
            logs.event("callback_error", logging.ERROR, callback=name, error=repr(exc))
            return None
    return call


def network_alive(client) -> bool:
    """Is the network thread started by `loop_start()` still running?

    paho keeps that thread in a private attribute; this is the one place that reads it.
    """
    thread = getattr(client, "_thread", None)
    return thread is not None and thread.is_alive()


class Brokers:
    """The brokers one client tries in turn: `connect` the first, `failed` moves on.

    paho knows a single host and retries it forever; its `on_connect_fail` fires (on the
    network thread) each time a reconnect cannot open a connection, whether the first
    connect or after a drop. There `failed` calls `connect_async` with the next broker:
    that is the one paho call allowed while a connect is pending (the host and port
    setters refuse), and the loop then waits its backoff and reconnects to the new host.
    A refused CONNACK is not a failed connection and does not move on: the broker is up,
    and its answer is the operator's to read.
    """

    def __init__(self, urls: str | Sequence[str], *, keepalive: int, name: str) -> None:
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls:
            raise ValueError("no broker URL")
        self.urls = [urlsplit(url) for url in urls]
        self.keepalive = keepalive
        self.name = name        # which client, in the failover event
        self._index = 0

    @property
    def current(self) -> SplitResult:
        return self.urls[self._index]

    def connect(self, client) -> None:
        """Aim `client` at the current broker; its loop connects (connect_async)."""
        url = self.current
        if url.username:    # each broker's own user; without one, the first URL's stays
            client.username_pw_set(url.username, url.password)
        client.connect_async(url.hostname, port_of(url), keepalive=self.keepalive,
                             clean_start=True)

    def failed(self, client) -> SplitResult | None:
        """paho's reconnect to the current broker failed: aim at the next one, if any."""
        if len(self.urls) == 1:
            return None
        before = self.current
        self._index = (self._index + 1) % len(self.urls)
        self.connect(client)
        logs.event("mqtt_failover", logging.WARNING, client=self.name,
                   broker=address(self.current), after=address(before))
        return self.current


def address(url: SplitResult) -> str:
    """HOST:PORT of a broker URL, for the log (never its password)."""
    return f"{url.hostname}:{port_of(url)}"
