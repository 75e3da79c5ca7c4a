"""The production broker config, run for real: a test CA from scripts/make-test-ca.sh and
config/mosquitto/production.conf with its paths and port rewritten for a temp folder, its
dynamic-security file written by district.broker_acl for the test's certificates."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

from district.broker_acl import dynsec_config
from models.wire import is_district_identity
from tests.support.broker import Broker
from tests.support.paths import REPO

MAKE_CA = REPO / "scripts" / "make-test-ca.sh"
PRODUCTION = REPO / "config" / "mosquitto"
INSTALLED = "/etc/mosquitto/checkpoint/"


def make_ca(folder: Path, *devices: str, receivers: Iterable[str] = ()) -> Path:
    """Certificates for `devices` and for "district" plus `receivers`, and crl.pem."""
    env = {**os.environ, "RECEIVERS": " ".join(("district", *receivers))}
    subprocess.run([str(MAKE_CA), str(folder), *devices], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return folder


def revoke(certs: Path, *names: str) -> None:
    """Revoke the certificates of `names` and rewrite certs/crl.pem."""
    subprocess.run([str(MAKE_CA), "--revoke", str(certs), *names], check=True,
                   stdout=subprocess.DEVNULL)


def identity(certs: Path, name: str) -> dict:
    """The tls dict edge.sync.Sync and district.receiver.Receiver take."""
    return {"ca": certs / "ca.pem", "cert": certs / f"{name}.pem",
            "key": certs / f"{name}-key.pem"}


def client_names(certs: Path) -> list[str]:
    """Every client certificate in `certs` (devices and receivers), sorted."""
    return sorted(path.name.removesuffix("-key.pem") for path in certs.glob("*-key.pem")
                  if path.name not in ("ca-key.pem", "server-key.pem"))


def production_conf(port: int, folder: Path, certs: Path, *,
                    devices: Iterable[str] | None = None,
                    receivers: Iterable[str] | None = None, admin: str | None = None) -> str:
    """production.conf for a broker in `folder`, and its folder/dynsec.json: by default
    every certificate in `certs` is named, "district..." as receivers, the rest devices."""
    names = client_names(certs)
    if devices is None:
        devices = [name for name in names if not is_district_identity(name) and name != admin]
    if receivers is None:
        receivers = [name for name in names if is_district_identity(name)]
    dynsec = dynsec_config(devices, receivers, admin=admin)
    (folder / "dynsec.json").write_text(json.dumps(dynsec, indent=2) + "\n")
    text = (PRODUCTION / "production.conf").read_text()
    rewrites = {f"plugin_opt_config_file {INSTALLED}dynsec.json":
                f"plugin_opt_config_file {folder}/dynsec.json",
                f"crlfile {INSTALLED}crl.pem": f"crlfile {certs}/crl.pem",
                INSTALLED: f"{certs}/", "listener 8883": f"listener {port} 127.0.0.1",
                "/var/lib/mosquitto/": f"{folder}/",
                "log_dest syslog": f"log_dest file {folder}/mosquitto.log"}
    for old, new in rewrites.items():
        assert old in text, f"production.conf no longer contains {old!r}"
        text = text.replace(old, new)
    # As root, mosquitto would switch to user mosquitto, which cannot enter the temp folder.
    return text + f"user {getpass.getuser()}\n"


class TlsBroker(Broker):
    def __init__(self, folder: Path, certs: Path, **names) -> None:
        """`names`: devices, receivers, admin, as production_conf takes them."""
        super().__init__(folder)
        self.certs = certs
        self.conf.write_text(production_conf(self.port, folder, certs, **names))

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads its config (and its CRL) without a restart."""
        self.process.send_signal(signal.SIGHUP)

    @property
    def url(self) -> str:
        return f"mqtts://{self.host}:{self.port}"


class Client:
    """A paho MQTT 5 client with a certificate; records PUBACKs, SUBACKs and messages."""

    def __init__(self, broker: TlsBroker, tls: dict, client_id: str = "") -> None:
        from paho.mqtt import client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.pubacks: dict[int, object] = {}
        self.subacks: list = []
        self.messages: list[tuple[str, bytes, bool]] = []     # topic, payload, retained
        self.connected = False
        self.disconnects: list[int] = []        # reason codes of the broker's DISCONNECTs
        self.event = threading.Condition()
        self._mqtt = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                 client_id=client_id, protocol=mqtt.MQTTv5)
        self._mqtt.tls_set(str(tls["ca"]), str(tls["cert"]), str(tls["key"]))
        self._mqtt.on_connect = lambda *_: self._notify(
            lambda: setattr(self, "connected", True))
        self._mqtt.on_disconnect = self._on_disconnect
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

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        def lost() -> None:
            self.connected = False
            self.disconnects.append(reason_code.value)
        self._notify(lost)

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

    def stay_offline(self) -> None:
        """No automatic reconnect: a connection the broker closed stays closed."""
        self._mqtt.reconnect_delay_set(3600, 3600)
