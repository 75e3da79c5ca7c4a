"""A load generator for the district: many simulated devices in one process, on the wire.

Each simulated device is what a gate is to the receiver: its own device id and MQTT
connection (client id per device), its own store id and seq counter, records of the
PROTOCOL.md section 4 form, batched as a device batches (up to `batch` records or 64 KiB
of JSON, zlib above 1 KiB, the MQTT 5 content type saying so), published at QoS 1 on its
records topic, with at most `window` batches in flight. A batch is done only when the
district's ack on the device's ack topic names it; one not acked within the ack timeout is
resent (the same batch id and payload, as a device resends), with backoff, and every
in-flight batch is resent at once after a reconnect. A device whose broker dies moves to
the next broker URL of its list.

The district meets the device on the wire only (tests/test_layers.py), so the batch is
encoded here from the contract (models/wire.py, models/records.py), not by edge/outbox.py.

Thousands of paho threads would not fit a small machine, so every client runs on one
selector loop in the caller's thread through paho's external-loop API (on_socket_open /
on_socket_close / on_socket_register_write / loop_read / loop_write / loop_misc). All
state is touched by that thread only; `counters()` may be read from another (ints under
the GIL). Acks arrive from the network and are read at a bounded cost; a malformed one is
counted, never allowed to end the loop.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import time
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from models import safejson
from models.ids import uuid7
from models.records import Record
from models.timefmt import rfc3339
from models.wire import CONTENT_JSON, CONTENT_ZLIB, QOS, ROOT, SCHEMA_ACK, SCHEMA_BATCH, Topics
from runtime.mqtt import make_client, no_delay, port_of

# A device's batch bounds (PROTOCOL.md section 5, as edge/outbox.py keeps them).
MAX_RECORDS = 200
MAX_BATCH_BYTES = 64 * 1024
COMPRESS_ABOVE = 1024
ENVELOPE_ROOM = 512
MAX_ACK_BYTES = 64 * 1024       # an ack of a 200-record batch is a few KiB
MISC_EVERY_S = 1.0              # paho's keepalive bookkeeping, per client
RESEND_SCAN_S = 0.1
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Plan:
    """What to run: `devices` at `rate` records/s in total for `seconds`, then a drain."""

    devices: int = 20
    rate: float = 40.0
    seconds: float = 10.0
    batch: int = MAX_RECORDS
    window: int = 4                 # batches in flight per device (edge/sync.py: 4)
    ack_timeout_s: float = 10.0     # first resend of an unacked batch; doubles per attempt
    max_backoff_s: float = 60.0
    drain_s: float = 120.0          # after the load: how long to wait for the last acks
    connect_s: float = 60.0         # how long all devices may take to be subscribed
    connects_per_s: float = 400.0   # pace of (re)connects, so a broker's backlog holds
    keepalive_s: int = 30
    prefix: str = "load"
    root: str = ROOT


@dataclass
class Flight:
    """One batch on its way: sent first at `first`, resent at `due`."""

    batch_id: str
    records: list[dict]
    payload: bytes
    content_type: str
    first: float
    due: float
    attempts: int = 1


@dataclass
class SimDevice:
    index: int
    device: str
    store: str
    url_at: int                     # which broker of the list it uses now
    seq: int = 0
    pending: list[dict] = field(default_factory=list)     # made, not yet in a batch
    in_flight: dict[str, Flight] = field(default_factory=dict)
    client: object = None
    ready: bool = False             # connected and subscribed to its ack topic
    connecting: bool = False
    reconnect_at: float = 0.0
    failures: int = 0               # connects failed in a row, for the backoff


def make_record(seq: int, now: float) -> dict:
    """A plausible CP1 pass decision on the wire; the subject is random hex, never a name."""
    record = Record(id=uuid7(int(now * 1000)), ts=rfc3339(now), clock_synced=True,
                    gate="load-gate", decision="pass", pass_format="CP1",
                    issuer="CN-LOAD-000001", kid="load-kid-1", subject=os.urandom(16).hex(),
                    color="green", pass_exp=rfc3339(now + 86400),
                    tested_at=rfc3339(now - 3600), temperature_c=36.6, seq=seq)
    return record.to_wire()


def encode(device: str, store: str, records: list[dict], sent: str) -> tuple[str, bytes, str]:
    """(batch id, payload, content type) of a batch envelope, as a device sends it."""
    batch_id = str(uuid.uuid4())
    body = _COMPACT.encode({"schema": SCHEMA_BATCH, "device": device, "store": store,
                            "batch": batch_id, "sent": sent, "records": records}).encode()
    if len(body) > COMPRESS_ABOVE:
        return batch_id, zlib.compress(body), CONTENT_ZLIB
    return batch_id, body, CONTENT_JSON


def take_batch(pending: list[dict], limit: int) -> list[dict]:
    """The first records of `pending` that fit one batch (count and bytes); removed."""
    size, count = ENVELOPE_ROOM, 0
    for record in pending[:limit]:
        size += len(_COMPACT.encode(record)) + 1
        if count and size > MAX_BATCH_BYTES:
            break
        count += 1
    taken = pending[:count]
    del pending[:count]
    return taken


def percentile(ordered, fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LoadGen:
    """N simulated devices over the brokers `urls`; `run()` returns the summary dict."""

    def __init__(self, urls: list[str], plan: Plan, *,
                 report: Callable[[dict], None] | None = None,
                 report_every_s: float = 10.0) -> None:
        if not urls:
            raise ValueError("at least one broker URL")
        self.urls = [urlsplit(url) for url in urls]
        self.plan = plan
        self.topics = Topics(plan.root)
        self.report, self.report_every_s = report, report_every_s
        self.selector = selectors.DefaultSelector()
        self.devices = [SimDevice(n, f"{plan.prefix}-{n + 1:05d}", str(uuid.uuid4()),
                                  n % len(self.urls)) for n in range(plan.devices)]
        self.latencies = array("d")     # seconds, first publish of a batch to its ack
        self.made = self.published = self.acked = self.resent = 0
        self.duplicate_acks = self.acks_malformed = self.broker_refused = 0
        self.requeued = self.connects = self.disconnects = self.loop_errors = 0
        self.rejected: Counter = Counter()
        self.phase = "connect"
        self.stopping = False           # set from anywhere: the run ends at the next turn
        self._started = 0.0
        self._properties = {kind: _properties(kind) for kind in (CONTENT_JSON, CONTENT_ZLIB)}
        self._busy: set[int] = set()    # devices with something in flight
        self._dirty: set[int] = set()   # devices with new records or a free window
        self._connect_queue: list[int] = []

    # -- the run ----------------------------------------------------------------------

    def run(self) -> dict:
        self._started = time.monotonic()
        self._connect_queue = list(range(len(self.devices)))
        random.shuffle(self._connect_queue)
        self._loop_until(lambda now: all(d.ready for d in self.devices),
                         self._started + self.plan.connect_s)
        self.phase = "load"
        load_start = time.monotonic()
        order = list(range(len(self.devices)))
        random.shuffle(order)       # an even spread: device k's records are N apart
        self._order, self._load_start, self._load_made = order, load_start, 0
        self._loop_until(lambda now: now >= load_start + self.plan.seconds,
                         load_start + self.plan.seconds, make=True)
        self.load_s = time.monotonic() - load_start
        self.phase = "drain"
        self._loop_until(lambda now: self.unacked() == 0,
                         time.monotonic() + self.plan.drain_s)
        self.phase = "done"
        summary = self.summary()
        self.close()
        return summary

    def close(self) -> None:
        for device in self.devices:
            if device.client is not None:
                try:
                    device.client.disconnect()
                    device.client.loop_write()
                except Exception:   # a dead connection: nothing to say goodbye on
                    pass
        self.selector.close()

    def unacked(self) -> int:
        return self.made - self.acked - sum(self.rejected.values())

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        load_s = getattr(self, "load_s", None) or (time.monotonic() - self._started)
        return {"devices": len(self.devices), "records": self.made, "acked": self.acked,
                "resent": self.resent, "duplicates": self.duplicate_acks,
                "rejected": dict(self.rejected), "rate": round(self.made / load_s, 1),
                "target_rate": self.plan.rate, "batches": len(ordered),
                "p50_ms": ms(percentile(ordered, 0.50)), "p99_ms": ms(percentile(ordered, 0.99)),
                "max_ms": ms(ordered[-1] if ordered else None), "unacked": self.unacked(),
                "connects": self.connects, "disconnects": self.disconnects,
                "acks_malformed": self.acks_malformed, "broker_refused": self.broker_refused,
                "requeued": self.requeued, "loop_errors": self.loop_errors}

    def counters(self) -> dict:
        """Progress, safe to read from another thread."""
        return {"phase": self.phase, "t": round(time.monotonic() - self._started, 1),
                "made": self.made, "published": self.published, "acked": self.acked,
                "resent": self.resent, "unacked": self.unacked(),
                "ready": sum(d.ready for d in self.devices), "batches": len(self.latencies)}

    def _loop_until(self, done: Callable[[float], bool], deadline: float,
                    make: bool = False) -> None:
        misc_at = resend_at = report_at = time.monotonic()
        while not self.stopping:
            now = time.monotonic()
            if done(now) or now >= deadline:
                return
            self._select(0.005)
            now = time.monotonic()
            self._connect_some(now)
            if make:
                self._make_due(now)
            if now >= resend_at:
                resend_at = now + RESEND_SCAN_S
                self._resend_due(now)
            self._flush(now)
            if now >= misc_at:
                misc_at = now + MISC_EVERY_S
                self._misc(now)
            if self.report and now >= report_at:
                report_at = now + self.report_every_s
                self.report(self.counters())

    def _select(self, timeout: float) -> None:
        for key, mask in self.selector.select(timeout):
            client = key.data
            try:
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE and client.socket() is not None:
                    client.loop_write()
            except Exception:   # one client's trouble (a bad ack, a reset) is its own
                self.loop_errors += 1

    # -- records and batches ----------------------------------------------------------

    def _make_due(self, now: float) -> None:
        """Records due by now at the target rate, spread evenly over the devices."""
        due = int((now - self._load_start) * self.plan.rate) - self._load_made
        wall = time.time()
        for _ in range(max(0, due)):
            device = self.devices[self._order[self._load_made % len(self._order)]]
            self._load_made += 1
            device.seq += 1
            device.pending.append(make_record(device.seq, wall))
            self.made += 1
            self._dirty.add(device.index)

    def _flush(self, now: float) -> None:
        """New batches for devices with records waiting and room in their window."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        sent = rfc3339(time.time())
        for index in dirty:
            device = self.devices[index]
            while device.ready and device.pending and len(device.in_flight) < self.plan.window:
                records = take_batch(device.pending, self.plan.batch)
                batch_id, payload, content_type = encode(device.device, device.store,
                                                         records, sent)
                flight = Flight(batch_id, records, payload, content_type, first=now,
                                due=now + self.plan.ack_timeout_s)
                device.in_flight[batch_id] = flight
                self._busy.add(index)
                self._publish(device, flight)

    def _publish(self, device: SimDevice, flight: Flight) -> None:
        info = device.client.publish(self.topics.records(device.device), flight.payload,
                                     qos=QOS, properties=self._properties[flight.content_type])
        if info.rc == 0:
            self.published += 1

    def _resend_due(self, now: float) -> None:
        for index in list(self._busy):
            device = self.devices[index]
            if not device.in_flight:
                self._busy.discard(index)
                continue
            if device.ready:
                for flight in device.in_flight.values():
                    if flight.due <= now:
                        self._resend(device, flight, now)

    def _resend(self, device: SimDevice, flight: Flight, now: float) -> None:
        flight.attempts += 1
        delay = self.plan.ack_timeout_s * 2 ** (flight.attempts - 2)
        flight.due = now + min(delay, self.plan.max_backoff_s)
        self.resent += 1
        self._publish(device, flight)

    # -- acks --------------------------------------------------------------------------

    def _on_message(self, client, device: SimDevice, message) -> None:
        now = time.monotonic()
        try:
            ack = safejson.loads(message.payload, max_bytes=MAX_ACK_BYTES, max_depth=4)
        except safejson.JsonRefused:
            self.acks_malformed += 1
            return
        if not isinstance(ack, dict) or ack.get("schema") != SCHEMA_ACK \
                or ack.get("store") != device.store:
            self.acks_malformed += 1
            return
        flight = device.in_flight.pop(ack.get("batch"), None) \
            if isinstance(ack.get("batch"), str) else None
        if flight is None:      # an ack for a batch already settled (a resend's, a bridge's)
            self.duplicate_acks += 1
            return
        self.latencies.append(now - flight.first)
        self._settle(device, flight, ack)
        self._dirty.add(device.index)

    def _settle(self, device: SimDevice, flight: Flight, ack: dict) -> None:
        seqs = {record["seq"] for record in flight.records}
        accepted: set[int] = set()
        for pair in ack.get("accepted") or ():
            if isinstance(pair, list) and len(pair) == 2 and all(type(n) is int for n in pair):
                accepted.update(seqs.intersection(range(pair[0], min(pair[1], max(seqs)) + 1)))
        rejected = {}
        for item in ack.get("rejected") or ():
            if isinstance(item, dict) and item.get("seq") in seqs - accepted:
                rejected[item["seq"]] = str(item.get("reason"))[:64]
        self.acked += len(accepted)
        self.rejected.update(rejected.values())
        left = [r for r in flight.records if r["seq"] not in accepted and r["seq"] not in rejected]
        if left:        # the district left some out: they go again, as a device sends them
            self.requeued += len(left)
            device.pending[:0] = left

    def _on_publish(self, client, device, mid, reason_code, properties) -> None:
        if reason_code.is_failure:      # the broker refused it: the ack timeout resends
            self.broker_refused += 1

    # -- connections -------------------------------------------------------------------

    def _connect_some(self, now: float) -> None:
        """(Re)connect the devices that are due, at most connects_per_s."""
        budget = max(1, int(self.plan.connects_per_s * 0.01))
        while self._connect_queue and budget:
            device = self.devices[self._connect_queue[0]]
            if device.reconnect_at > now:
                break
            self._connect_queue.pop(0)
            budget -= 1
            self._connect(device, now)

    def _connect(self, device: SimDevice, now: float) -> None:
        url = self.urls[device.url_at]
        if device.client is None:
            device.client = self._make_client(device)
        device.connecting = True
        try:
            device.client.connect(url.hostname, port_of(url), keepalive=self.plan.keepalive_s,
                                  clean_start=True)
            self.connects += 1
        except (OSError, ValueError):
            device.connecting = False
            self._retry_later(device, now)

    def _retry_later(self, device: SimDevice, now: float) -> None:
        """The next broker of the list, after a jittered pause that grows per failure."""
        device.failures += 1
        device.url_at = (device.url_at + 1) % len(self.urls)
        pause = min(0.5 * 2 ** min(device.failures - 1, 4), 8.0) * random.uniform(0.5, 1.5)
        device.reconnect_at = now + pause
        self._enqueue(device)

    def _enqueue(self, device: SimDevice) -> None:
        """Into the connect queue, kept in order of reconnect_at."""
        queue = self._connect_queue
        at = len(queue)
        while at and self.devices[queue[at - 1]].reconnect_at > device.reconnect_at:
            at -= 1
        queue.insert(at, device.index)

    def _make_client(self, device: SimDevice):
        client = make_client(self.urls[device.url_at],
                             client_id=f"cp-{device.device}-{device.store[:8]}")
        client.user_data_set(device)
        client.connect_timeout = 2.0
        client.max_queued_messages_set(0)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._written
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _socket_open(self, client, device, sock) -> None:
        no_delay(client, device, sock)
        self.selector.register(sock, selectors.EVENT_READ, client)

    def _socket_close(self, client, device, sock) -> None:
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _want_write(self, client, device, sock) -> None:
        try:
            self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
        except (KeyError, ValueError):
            pass

    def _written(self, client, device, sock) -> None:
        try:
            self.selector.modify(sock, selectors.EVENT_READ, client)
        except (KeyError, ValueError):
            pass

    def _on_connect(self, client, device, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return      # the broker refused: on_disconnect follows
        client.subscribe(self.topics.ack(device.device), qos=QOS)

    def _on_subscribe(self, client, device, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            return
        device.ready, device.connecting, device.failures = True, False, 0
        now = time.monotonic()
        for flight in device.in_flight.values():   # what the old connection lost, now
            flight.due = now
        self._dirty.add(device.index)

    def _on_disconnect(self, client, device, flags, reason_code, properties) -> None:
        was = device.ready or device.connecting
        device.ready = device.connecting = False
        if was and self.phase != "done":
            self.disconnects += 1
            self._retry_later(device, time.monotonic())

    def _misc(self, now: float) -> None:
        for device in self.devices:
            if device.client is not None and (device.ready or device.connecting):
                try:
                    device.client.loop_misc()
                except Exception:
                    self.loop_errors += 1
            if device.connecting and not device.ready and device.client is not None \
                    and device.client.socket() is None:
                device.connecting = False       # a socket that closed before CONNACK
                self._retry_later(device, now)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _properties(content_type: str):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.PUBLISH)
    properties.ContentType = content_type
    return properties
