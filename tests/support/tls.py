"""The production broker config, run for real: a test CA from scripts/make-test-ca.sh and
config/mosquitto/production.conf with its paths and port rewritten for a temp folder."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import threading
from pathlib import Path

from tests.support.broker import Broker
from tests.support.paths import REPO

MAKE_CA = REPO / "scripts" / "make-test-ca.sh"
PRODUCTION = REPO / "config" / "mosquitto"
INSTALLED = "/etc/mosquitto/checkpoint/"


def make_ca(folder: Path, *devices: str) -> Path:
    subprocess.run([str(MAKE_CA), str(folder), *devices], check=True,
                   stdout=subprocess.DEVNULL)
    return folder


def identity(certs: Path, name: str) -> dict:
    """The tls dict edge.sync.Sync and district.receiver.Receiver take."""
    return {"ca": certs / "ca.pem", "cert": certs / f"{name}.pem",
            "key": certs / f"{name}-key.pem"}


def production_conf(port: int, folder: Path, certs: Path) -> str:
    shutil.copy(PRODUCTION / "acl", certs / "acl")
    text = (PRODUCTION / "production.conf").read_text()
    rewrites = {INSTALLED: f"{certs}/", "listener 8883": f"listener {port} 127.0.0.1",
                "/var/lib/mosquitto/": f"{folder}/",
                "log_dest syslog": f"log_dest file {folder}/mosquitto.log"}
    for old, new in rewrites.items():
        assert old in text, f"production.conf no longer contains {old!r}"
        text = text.replace(old, new)
    # As root, mosquitto would switch to user mosquitto, which cannot enter the temp folder.
    return text + f"user {getpass.getuser()}\n"


class TlsBroker(Broker):
    def __init__(self, folder: Path, certs: Path) -> None:
        super().__init__(folder)
        self.conf.write_text(production_conf(self.port, folder, certs))

    @property
    def url(self) -> str:
        return f"mqtts://{self.host}:{self.port}"


class Client:
    """A paho MQTT 5 client with a certificate; records PUBACKs, SUBACKs and messages."""

    def __init__(self, broker: TlsBroker, tls: dict) -> None:
        from paho.mqtt import client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.pubacks: dict[int, object] = {}
        self.subacks: list = []
        self.messages: list[tuple[str, bytes, bool]] = []     # topic, payload, retained
        self.connected = False
        self.event = threading.Condition()
        self._mqtt = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                 protocol=mqtt.MQTTv5)
        self._mqtt.tls_set(str(tls["ca"]), str(tls["cert"]), str(tls["key"]))
        self._mqtt.on_connect = lambda *_: self._notify(
            lambda: setattr(self, "connected", True))
        self._mqtt.on_publish = self._on_publish
        self._mqtt.on_subscribe = self._on_subscribe
        self._mqtt.on_message = self._on_message
        self._mqtt.connect(broker.host, broker.port)
        self._mqtt.loop_start()
        self.wait(lambda: self.connected)

    def _notify(self, action) -> None:
        with self.event:
            action()
            self.event.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._notify(lambda: self.pubacks.__setitem__(mid, reason_code))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._notify(lambda: self.subacks.append([code.value for code in reason_codes]))

    def _on_message(self, client, userdata, message) -> None:
        self._notify(lambda: self.messages.append((message.topic, message.payload,
                                                   bool(message.retain))))

    def wait(self, condition, timeout: float = 10.0) -> None:
        with self.event:
            assert self.event.wait_for(condition, timeout), "timed out"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        mid = self._mqtt.publish(topic, payload, qos=1, retain=retain).mid
        self.wait(lambda: mid in self.pubacks)
        return self.pubacks[mid].value

    def subscribe(self, *topics: str) -> list[int]:
        """Subscribe at QoS 1 and return the SUBACK reason codes."""
        count = len(self.subacks)
        self._mqtt.subscribe([(topic, 1) for topic in topics])
        self.wait(lambda: len(self.subacks) > count)
        return self.subacks[count]

    def close(self) -> None:
        self._mqtt.disconnect()
        self._mqtt.loop_stop()
