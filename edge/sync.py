"""Uplink to the district (PROTOCOL.md section 5): the outbox, delivered in batches over MQTT.

A PUBACK only says the broker took a message (a broker killed later may lose it, an
ACL-refused publish comes back as 0x87), so a record is marked synced only when the
district's own ack names its seq; until then its batch is resent with backoff.

Threads: paho's network thread owns the socket and runs the callbacks, which only queue
what arrived (a bounded inbox; what overflows is counted) and wake the worker. The worker
(a supervised loop) owns its own Store connection (the controller writes through
another; SQLite WAL lets both work) and all batching state, so nothing here is shared
between threads but queues and events. A dead broker costs the agent nothing: the worker
just finds itself offline and waits.
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

from edge import status
from edge.outbox import Batch, Outbox, Retention
from edge.store import Store
from models import safejson
from models.timefmt import rfc3339
from models.wire import QOS, ROOT, Topics
from runtime import logs
from runtime.mqtt import Brokers, address, guarded, make_client, network_alive
from runtime.worker import Worker

MAX_IN_FLIGHT = 16
# An ack names at most a batch's 200 seqs (as ranges and rejections): a few KiB.
MAX_ACK_BYTES = 64 * 1024
INBOX_LEN = 1024        # acks and PUBACKs waiting for the worker; more is a flood


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
    # How stale the console's backlog count may be while batches are in flight: counting
    # (and finding the oldest time of) a long backlog costs milliseconds per 10,000
    # records, and a drain that counted at every ack spent most of its time there.
    backlog_every_s: float = 1.0


class Sync:
    def __init__(self, config_mqtt_url: str | list[str], *, device: str, store_path: Path, clock,
                 root: str = ROOT, tls: dict | None = None, timing: Timing | None = None,
                 health: Callable[[], dict] | None = None,
                 retention_days: int | None = None,
                 on_bundle: Callable[[str, bytes], None] | None = None) -> None:
        self.device = device
        self.store_path = Path(store_path)
        self.clock = clock
        self.topics = Topics(root)
        # Signed bundles the district pushes, retained; edge/bundles.py verifies them.
        self.bundle_topics = self.topics.bundles(device)
        self.on_bundle = on_bundle
        self.tls = tls
        self.timing = timing or Timing()
        # `[mqtt] url`, then the `[mqtt] failover` brokers, tried in turn
        self.brokers = Brokers(config_mqtt_url, keepalive=self.timing.keepalive_s, name="sync")
        self.health = health        # camera / thermal / gate / bundle versions, alarm
        # Retention runs here so the controller never spends a scan's time on it.
        self.retention = Retention(retention_days, self.timing.prune_every_s, clock)
        self.boot_id = str(uuid.uuid4())
        self.inbox_dropped = 0      # acks or PUBACKs that found the inbox full
        self.acks_malformed = 0     # acks that were not bounded JSON
        self.worker = Worker("sync", self._round)
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._inbox: queue.Queue = queue.Queue(INBOX_LEN)   # acks, PUBACKs, connects
        self._mids: dict[int, str] = {}     # MQTT message id -> batch id, until PUBACK
        self._outbox: Outbox | None = None  # made by the worker, in its own thread
        self._status_due = 0.0
        self._said: tuple | None = None     # the watched health fields last published
        self._started = clock.monotonic()
        self._unreachable_said = False
        self.backlog: tuple[int, str | None] = (0, None)   # as of the worker's last round
        self._backlog_due = 0.0
        self._client = self._make_client()

    @property
    def url(self):
        """The broker connected to, or tried next."""
        return self.brokers.current

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def network_alive(self) -> bool:
        """paho's network thread is running (it ends only when stopped, or by a bug)."""
        return network_alive(self._client)

    def start(self) -> None:
        self.brokers.connect(self._client)
        self._client.loop_start()
        self.worker.start()

    def counters(self) -> dict:
        outbox = self._outbox
        return {"sync_inbox_dropped": self.inbox_dropped, "acks_malformed": self.acks_malformed,
                "acks_ignored": outbox.acks_ignored if outbox else 0}

    def notify(self) -> None:
        """New records were committed, or the health changed: look now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the worker, say `online: false` (a clean stop sends no will), disconnect."""
        self.worker.stopping.set()
        self._wake.set()
        self.worker.stop()
        # The worker's store connection is free once its thread has ended; a worker that
        # does not end in time leaves the backlog out of the goodbye.
        store = self._outbox.store if self._outbox and not self.worker.alive else None
        self._say_goodbye(store)
        if store is not None:
            store.close()
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho side: runs on the network thread, only queues and wakes ------------------

    def _make_client(self):
        client = make_client(self.url, client_id=f"cp-{self.device}-{self.boot_id[:8]}",
                             tls=self.tls)
        client.will_set(self.topics.status(self.device),
                        json.dumps(status.last_will(self.device, self.boot_id)),
                        qos=QOS, retain=True)
        # Jitter, so that a district's devices do not all come back in the same second.
        low = self.timing.reconnect_min_s * random.uniform(1.0, 1.5)
        client.reconnect_delay_set(low, max(low, self.timing.reconnect_max_s
                                            * random.uniform(0.5, 1.0)))
        client.on_connect = guarded("sync.on_connect", self._on_connect)
        client.on_disconnect = guarded("sync.on_disconnect", self._on_disconnect)
        client.on_connect_fail = guarded("sync.on_connect_fail", self._on_connect_fail)
        client.on_message = guarded("sync.on_message", self._on_message)
        client.on_publish = guarded("sync.on_publish", self._on_publish)
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logs.event("sync_refused", logging.WARNING, reason=str(reason_code))
            return
        client.subscribe(self.topics.ack(self.device), qos=QOS)
        if self.on_bundle:
            client.subscribe([(topic, QOS) for topic in self.bundle_topics])
        logs.event("sync_online", broker=address(self.url))
        self._unreachable_said = False
        self._connected.set()
        self._queue("connected", None)

    def _on_connect_fail(self, client, userdata) -> None:
        # Said once per outage: the gate keeps deciding, records wait in the outbox.
        if not self._unreachable_said:
            self._unreachable_said = True
            logs.event("sync_unreachable", logging.WARNING, broker=address(self.url),
                       note="records are kept and sent when the broker is back")
        # the next broker, if there is one; unacked batches go there on connect
        self.brokers.failed(client)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set():
            logs.event("sync_offline", reason=str(reason_code))
        self._connected.clear()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic in self.bundle_topics:
            if self.on_bundle and message.payload:   # empty: a retained bundle was cleared
                self.on_bundle(message.topic, bytes(message.payload))
            return
        try:    # bounded here, on paho's thread, so a hostile ack costs little
            ack = safejson.loads(message.payload, max_bytes=MAX_ACK_BYTES, max_depth=3)
        except safejson.JsonRefused as exc:
            self.acks_malformed += 1
            if logs.worth_logging(self.acks_malformed):
                logs.event("ack_malformed", logging.WARNING, reason=exc.reason,
                           malformed=self.acks_malformed)
            return
        self._queue("ack", ack)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # 0x80 and above: the broker refused the message; it is not on its way.
        refusal = str(reason_code) if reason_code.is_failure else None
        self._queue("puback", (mid, refusal))

    def _queue(self, kind: str, item) -> None:
        try:
            self._inbox.put_nowait((kind, item))
        except queue.Full:
            self.inbox_dropped += 1
            if logs.worth_logging(self.inbox_dropped):
                logs.event("sync_inbox_full", logging.WARNING, kind=kind,
                           dropped=self.inbox_dropped)
        self._wake.set()

    # -- worker side: the only user of its store connection and of the outbox ---------

    def _round(self) -> None:
        """One round of the supervised loop: wait for news or a due time, then act."""
        if self._outbox is None:
            self._outbox = Outbox(Store(self.store_path), self.device,
                                  retry_s=self.timing.ack_timeout_s,
                                  max_retry_s=self.timing.max_backoff_s)
        self._wake.wait(self._next_wait(self._outbox))
        self._wake.clear()
        if not self.worker.stopping.is_set():
            self._step(self._outbox)

    def _next_wait(self, outbox: Outbox) -> float:
        if not self.connected:
            return 1.0      # only acks can arrive, and _on_connect wakes us anyway
        now = self.clock.monotonic()
        dues = [self._status_due, *(batch.due for batch in outbox.in_flight.values())]
        return max(0.01, min([now + self.timing.poll_s, *dues]) - now)

    def _step(self, outbox: Outbox) -> None:
        self._handle_inbox(outbox)
        self.retention.run_if_due(outbox.store)
        self._count_backlog(outbox)
        if not self.connected:
            return
        if self.clock.monotonic() >= self._status_due or self._news():
            self._publish_status(outbox.store, online=True)
        now = self.clock.monotonic()
        for batch in outbox.in_flight.values():
            if batch.due <= now:
                self._publish(batch)
        while len(outbox.in_flight) < MAX_IN_FLIGHT:
            batch = outbox.next_batch(sent=rfc3339(self.clock.now()), now=now)
            if batch is None:
                break
            self._publish(batch)

    def _count_backlog(self, outbox: Outbox) -> None:
        """The backlog for the console, read on this thread: at once when nothing is in
        flight (so a drained queue shows 0 at its last ack), else at most every
        backlog_every_s."""
        now = self.clock.monotonic()
        if outbox.in_flight and now < self._backlog_due:
            return
        self.backlog = outbox.store.backlog()
        self._backlog_due = now + self.timing.backlog_every_s

    def _health(self) -> dict:
        return self.health() if self.health else {}

    def _news(self) -> bool:
        """Has a watched part of the health changed since the last status?"""
        return status.watched(self._health()) != self._said

    def _handle_inbox(self, outbox: Outbox) -> None:
        while True:
            try:
                kind, item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "ack":
                outbox.settle(item, now=self.clock.monotonic())
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
        info = self._client.publish(self.topics.records(self.device), batch.payload, qos=QOS,
                                    properties=properties)
        self._mids[info.mid] = batch.batch_id
        batch.attempts += 1
        delay = self.timing.ack_timeout_s * 2 ** (batch.attempts - 1)
        batch.due = self.clock.monotonic() + min(delay, self.timing.max_backoff_s)
        if batch.attempts > 1:
            logs.event("batch_resent", batch=batch.batch_id, attempt=batch.attempts,
                       records=len(batch.seqs))

    def _status(self, store: Store | None, online: bool, health: dict) -> dict:
        return status.status_message(
            self.device, online=online, now=self.clock.now(), boot_id=self.boot_id,
            uptime_s=self.clock.monotonic() - self._started,
            backlog=store.backlog() if store else (None, None),
            clock_synced=self.clock.synced(),
            disk_free_mb=shutil.disk_usage(self.store_path.parent).free // 2**20,
            health=health)

    def _publish_status(self, store: Store | None, online: bool):
        self._status_due = self.clock.monotonic() + self.timing.status_every_s
        health = self._health()
        self._said = status.watched(health)
        message = json.dumps(self._status(store, online, health))
        return self._client.publish(self.topics.status(self.device), message, qos=QOS,
                                    retain=True)

    def _say_goodbye(self, store: Store | None) -> None:
        """A clean stop sends no will, so say `online: false` ourselves."""
        if self.connected:
            try:
                self._publish_status(store, online=False).wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                pass    # gone offline meanwhile: the broker sends the will instead
