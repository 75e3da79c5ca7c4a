"""Uplink to the district (PROTOCOL.md section 5): the outbox, delivered in batches over MQTT.

A PUBACK only says the broker took a message (a broker killed later may lose it, an
ACL-refused publish comes back as 0x87), so a record is marked synced only when the
district's own ack names its seq; until then its batch is resent with backoff.

Threads: paho's network thread owns the socket and runs the callbacks, which only queue
what arrived and wake the worker. The worker thread owns its own Store connection (the
controller writes through another; SQLite WAL lets both work) and all batching state, so
nothing here is shared between threads but queues and events. A dead broker costs the
agent nothing: the worker just finds itself offline and waits.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edge import logs
from edge.outbox import Batch, Outbox
from edge.store import Store, StoreError
from edge.worker import Worker
from models.timefmt import rfc3339

SCHEMA_STATUS = "checkpoint.status/1"
VERSION = "0.1.0"
MAX_IN_FLIGHT = 4


@dataclass(frozen=True)
class Timing:
    """Delays, in seconds; tests shorten them, a device keeps the defaults."""

    poll_s: float = 5.0             # outbox poll when nobody calls notify()
    ack_timeout_s: float = 30.0     # first resend of an unacknowledged batch
    max_backoff_s: float = 300.0
    status_every_s: float = 60.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    keepalive_s: int = 30           # also how soon a half-open connection is noticed
    prune_every_s: float = 3600.0   # retention pass over the acknowledged records


class Sync(Worker):
    name = "sync"

    def __init__(self, config_mqtt_url: str, *, device: str, store_path: Path, clock,
                 root: str = "cp/v1", tls: dict | None = None, timing: Timing | None = None,
                 health: Callable[[], dict] | None = None,
                 retention_days: int | None = None,
                 on_bundle: Callable[[bytes], None] | None = None) -> None:
        self.url = urlsplit(config_mqtt_url)
        self.device = device
        self.store_path = Path(store_path)
        self.clock = clock
        self.topic = f"{root}/{device}"
        # Signed bundles the district pushes, retained; the controller verifies them.
        self.bundle_topics = (f"{root}/district/trustlist", f"{root}/district/revocations",
                              f"{self.topic}/config")
        self.on_bundle = on_bundle
        self.tls = tls
        self.timing = timing or Timing()
        self.health = health        # camera / thermal / gate / bundle versions, alarm
        self.retention_days = retention_days    # None keeps every acknowledged record
        self.boot_id = str(uuid.uuid4())
        super().__init__()
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._inbox: queue.Queue = queue.Queue()   # acks, failed PUBACKs, connects
        self._mids: dict[int, str] = {}     # MQTT message id -> batch id, until PUBACK
        self._status_due = 0.0
        self._prune_due = 0.0
        self._alarm_said: str | None = None     # alarm in the last status published
        self._started = clock.monotonic()
        self._unreachable_said = False
        self._client = self._make_client()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        host, port = self.url.hostname, self.url.port
        default_port = 8883 if self.url.scheme == "mqtts" else 1883
        self._client.connect_async(host, port or default_port,
                                   keepalive=self.timing.keepalive_s, clean_start=True)
        self._client.loop_start()
        super().start()

    def notify(self) -> None:
        """New records were committed: look at the outbox now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        super().stop()
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho side: runs on the network thread, only queues and wakes ------------------

    def _make_client(self):
        from paho.mqtt import client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                             client_id=f"cp-{self.device}-{self.boot_id[:8]}",
                             protocol=mqtt.MQTTv5)
        if self.url.username:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.scheme == "mqtts" or self.tls:
            tls = self.tls or {}
            client.tls_set(ca_certs=_str(tls.get("ca")), certfile=_str(tls.get("cert")),
                           keyfile=_str(tls.get("key")))
        will = {"schema": SCHEMA_STATUS, "device": self.device, "online": False,
                "version": VERSION, "boot_id": self.boot_id}
        client.will_set(f"{self.topic}/status", json.dumps(will), qos=1, retain=True)
        # Jitter, so that a district's devices do not all come back in the same second.
        low = self.timing.reconnect_min_s * random.uniform(1.0, 1.5)
        client.reconnect_delay_set(low, max(low, self.timing.reconnect_max_s
                                            * random.uniform(0.5, 1.0)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logs.event("sync_refused", logging.WARNING, reason=str(reason_code))
            return
        client.subscribe(f"{self.topic}/ack", qos=1)
        if self.on_bundle:
            client.subscribe([(topic, 1) for topic in self.bundle_topics])
        logs.event("sync_online", broker=self.url.hostname)
        self._unreachable_said = False
        self._connected.set()
        self._inbox.put(("connected", None))
        self._wake.set()

    def _on_connect_fail(self, client, userdata) -> None:
        # Said once per outage: the gate keeps deciding, records wait in the outbox.
        if not self._unreachable_said:
            self._unreachable_said = True
            logs.event("sync_unreachable", logging.WARNING,
                       broker=f"{self.url.hostname}:{self.url.port or ''}",
                       note="records are kept and sent when the broker is back")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set():
            logs.event("sync_offline", reason=str(reason_code))
        self._connected.clear()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic in self.bundle_topics:
            if self.on_bundle and message.payload:   # empty: a retained bundle was cleared
                self.on_bundle(bytes(message.payload))
            return
        try:
            ack = json.loads(message.payload)
        except ValueError:
            logs.event("ack_malformed", logging.WARNING, reason="bad_json")
            return
        self._inbox.put(("ack", ack))
        self._wake.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # 0x80 and above: the broker refused the message; it is not on its way.
        refusal = str(reason_code) if reason_code.is_failure else None
        self._inbox.put(("puback", (mid, refusal)))

    # -- worker side: the only user of its store connection and of the outbox ---------

    def _run(self) -> None:
        outbox = Outbox(Store(self.store_path), self.device)
        try:
            while not self._stop.is_set():
                self._wake.wait(self._next_wait(outbox))
                self._wake.clear()
                try:
                    self._step(outbox)
                except Exception as exc:   # a bad moment must not end delivery for good
                    logs.event("sync_error", logging.ERROR, error=repr(exc))
            self._say_goodbye(outbox.store)
        finally:
            outbox.store.close()

    def _next_wait(self, outbox: Outbox) -> float:
        if not self.connected:
            return 1.0      # only acks can arrive, and _on_connect wakes us anyway
        now = self.clock.monotonic()
        dues = [self._status_due, *(batch.due for batch in outbox.in_flight.values())]
        return max(0.01, min([now + self.timing.poll_s, *dues]) - now)

    def _step(self, outbox: Outbox) -> None:
        self._handle_inbox(outbox)
        self._prune(outbox.store)
        if not self.connected:
            return
        if self.clock.monotonic() >= self._status_due or self._alarm() != self._alarm_said:
            self._publish_status(outbox.store, online=True)
        now = self.clock.monotonic()
        for batch in outbox.in_flight.values():
            if batch.due <= now:
                self._publish(batch)
        while len(outbox.in_flight) < MAX_IN_FLIGHT:
            batch = outbox.next_batch(sent=rfc3339(self.clock.now()))
            if batch is None:
                break
            self._publish(batch)

    def _prune(self, store: Store) -> None:
        """Retention, run here so the controller never spends a scan's time on it."""
        if self.retention_days is None or self.clock.monotonic() < self._prune_due:
            return
        self._prune_due = self.clock.monotonic() + self.timing.prune_every_s
        try:
            deleted = store.prune(self.retention_days, self.clock.now())
        except StoreError as exc:   # a full disk, say: delivery goes on, retry next time
            logs.event("prune_failed", logging.WARNING, error=str(exc))
            return
        if deleted:
            logs.event("records_pruned", count=deleted, retention_days=self.retention_days)

    def _alarm(self) -> str | None:
        return (self.health() if self.health else {}).get("alarm")

    def _handle_inbox(self, outbox: Outbox) -> None:
        while True:
            try:
                kind, item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "ack":
                outbox.settle(item)
            elif kind == "puback":
                self._puback(*item)
            else:       # (re)connected: status now, unacknowledged batches now
                self._status_due = 0.0
                for batch in outbox.in_flight.values():
                    batch.due = 0.0

    def _puback(self, mid: int, refusal: str | None) -> None:
        batch_id = self._mids.pop(mid, None)
        if refusal and batch_id:    # its resend is already scheduled with backoff
            logs.event("batch_refused_by_broker", logging.WARNING, reason=refusal,
                       batch=batch_id)

    def _publish(self, batch: Batch) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.PUBLISH)
        properties.ContentType = batch.content_type
        info = self._client.publish(f"{self.topic}/records", batch.payload, qos=1,
                                    properties=properties)
        self._mids[info.mid] = batch.batch_id
        batch.attempts += 1
        delay = self.timing.ack_timeout_s * 2 ** (batch.attempts - 1)
        batch.due = self.clock.monotonic() + min(delay, self.timing.max_backoff_s)
        if batch.attempts > 1:
            logs.event("batch_resent", batch=batch.batch_id, attempt=batch.attempts,
                       records=len(batch.seqs))

    def _status(self, store: Store, online: bool) -> dict:
        backlog, oldest = store.backlog()
        health = self.health() if self.health else {}
        return {
            "schema": SCHEMA_STATUS, "device": self.device, "online": online,
            "ts": rfc3339(self.clock.now()), "version": VERSION, "boot_id": self.boot_id,
            "uptime_s": int(self.clock.monotonic() - self._started),
            "backlog": backlog, "oldest_unsynced": oldest,
            "camera": health.get("camera", "unknown"),
            "thermal": health.get("thermal", "unknown"),
            "gate": health.get("gate", "unknown"),
            "clock_synced": self.clock.synced(),
            "disk_free_mb": shutil.disk_usage(self.store_path.parent).free // 2**20,
            "trustlist_version": health.get("trustlist_version"),
            "revocations_version": health.get("revocations_version"),
            "policy_version": health.get("policy_version"),
            "alarm": health.get("alarm"),
        }

    def _publish_status(self, store: Store, online: bool):
        self._status_due = self.clock.monotonic() + self.timing.status_every_s
        self._alarm_said = self._alarm()
        return self._client.publish(f"{self.topic}/status",
                                    json.dumps(self._status(store, online)), qos=1, retain=True)

    def _say_goodbye(self, store: Store) -> None:
        """A clean stop sends no will, so say `online: false` ourselves."""
        if self.connected:
            try:
                self._publish_status(store, online=False).wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                pass    # gone offline meanwhile: the broker sends the will instead


def _str(path) -> str | None:
    return None if path is None else str(path)
