"""The one MQTT client set-up: a callback that raises is logged, and paho's network thread
(which would otherwise end for good) goes on taking messages."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from runtime.mqtt import guarded, make_client, network_alive, port_of
from tests.support.waiting import wait_for


def test_a_raising_callback_does_not_end_the_network_thread(broker, caplog):
    seen: list[bytes] = []
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        if message.payload == b"poison":
            raise RecursionError("maximum recursion depth exceeded")
        seen.append(message.payload)

    url = urlsplit(broker.url)
    client = make_client(url, client_id="guarded-test")
    client.on_connect = lambda c, *_: c.subscribe("t/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = guarded("test.on_message", on_message)
    client.connect(url.hostname, port_of(url))
    client.loop_start()
    try:
        assert subscribed.wait(5)
        for payload in (b"first", b"poison", b"after"):
            client.publish("t/x", payload, qos=1)
        wait_for(lambda: seen == [b"first", b"after"], "the message after the bad one")
        assert network_alive(client)
    finally:
        client.disconnect()
        client.loop_stop()
    assert not network_alive(client)
    errors = [r.getMessage() for r in caplog.records if "callback_error" in r.getMessage()]
    assert errors == ["event=callback_error callback=test.on_message "
                      "error=\"RecursionError('maximum recursion depth exceeded')\""]


def test_every_client_connection_has_nagles_algorithm_off(broker):
    import socket

    url = urlsplit(broker.url)
    client = make_client(url, client_id="nodelay-test")
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(url.hostname, port_of(url))
    client.loop_start()
    try:
        assert connected.wait(5)
        assert client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_shipped_brokers_turn_nagles_algorithm_off_too():
    from tests.support.paths import REPO

    for name in ("dev.conf", "production.conf"):
        lines = (REPO / "config" / "mosquitto" / name).read_text().splitlines()
        assert "set_tcp_nodelay true" in lines, name
