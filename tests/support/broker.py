"""A real Mosquitto on a free loopback port, for tests: start, SIGKILL, restart on the port;
and `BridgedPair`, two of them bridged on one topic root, for failover tests."""

from __future__ import annotations

import getpass
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from tests.support.waiting import wait_until

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """One broker process; its persistence file survives kill() so restart() finds it."""

    def __init__(self, folder: Path, acl: str | None = None,
                 extra: list[str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.folder = folder
        self.conf = folder / "mosquitto.conf"
        # `user`: mosquitto started as root would drop to user mosquitto, which may not
        # enter a private temporary folder; anyone else runs it as themselves anyway.
        lines = [f"listener {self.port} {self.host}", "allow_anonymous true",
                 "set_tcp_nodelay true",     # as the shipped configs
                 "max_queued_messages 200000", "max_queued_bytes 268435456",
                 f"user {getpass.getuser()}",
                 "persistence true", f"persistence_location {folder}/",
                 "autosave_interval 1", f"log_dest file {folder}/mosquitto.log"]
        if acl is not None:
            (folder / "acl").write_text(acl)
            lines.append(f"acl_file {folder}/acl")
        lines += extra or []
        self.conf.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within 5 s")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last save."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)
            self.kills += 1

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()


class BridgedPair:
    """Brokers `a` and `b`, every message under `root` carried across both ways.

    One bridge connection, from b to a, with `topic ROOT/# both`: a second connection a->b
    of the same topics would send each message back where it came from, for ever. The
    bridge speaks MQTT 5, so it subscribes on a with No Local (a does not echo back what
    the bridge published there) and the publish properties (a batch's content type)
    cross; `try_private` tells a it is a bridge. Notifications are off: their retained
    $SYS state topics are of no use here. b retries a dead a every second.
    """

    def __init__(self, folder: Path, root: str = "cp/v1") -> None:
        (folder / "a").mkdir(parents=True)
        (folder / "b").mkdir()
        self.a = Broker(folder / "a")
        self.b = Broker(folder / "b", extra=[
            "connection a", f"address {self.a.host}:{self.a.port}",
            f"topic {root}/# both 1", "bridge_protocol_version mqttv50",
            "try_private true", "notifications false", "cleansession true",
            "restart_timeout 1", f"remote_clientid bridge-b-{self.a.port}"])

    @property
    def urls(self) -> list[str]:
        return [self.a.url, self.b.url]

    def start(self, timeout: float = 10.0) -> None:
        """Both brokers up and the bridge carrying messages both ways."""
        self.a.start()
        self.b.start()
        self.wait_bridged(timeout)

    def wait_bridged(self, timeout: float = 10.0) -> None:
        """Return once a message published on each side arrives on the other."""
        deadline = time.monotonic() + timeout
        for source, sink in ((self.a, self.b), (self.b, self.a)):
            while not _crosses(source, sink):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bridge did not carry {source.port} -> {sink.port}")

    def stop(self) -> None:
        self.b.stop()
        self.a.stop()


def _crosses(source: Broker, sink: Broker, root: str = "cp/v1") -> bool:
    """Does a message published on `source` reach a subscriber on `sink` within 0.5 s?"""
    topic = f"{root}/bridge-probe/{time.monotonic_ns()}"
    seen: list = []
    listener = raw_client(sink, topic, seen)
    sender = publisher(source)
    try:
        sender.publish(topic, b"probe", qos=1).wait_for_publish(timeout=1.0)
        return wait_until(lambda: bool(seen), timeout=0.5)
    finally:
        for client in (listener, sender):
            client.disconnect()
            client.loop_stop()


def raw_client(broker: Broker, topic: str, seen: list):
    """A plain MQTT 5 client that records (topic, content type, payload) from `topic`."""
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, m: seen.append(
        (m.topic, getattr(m.properties, "ContentType", None), m.payload))
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert subscribed.wait(5), "raw client did not subscribe"
    return client


def publisher(broker: Broker):
    """A plain MQTT 5 client, connected and looping, for publishing what a test forges."""
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client
