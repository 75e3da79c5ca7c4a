"""The reference district receiver: batches in, rows committed, then the ack out.

Batches come through a shared subscription (`$share/district/...`), so several receiver
processes on one broker split the load. The network thread checks each message and hands
it to the writer (district/ingest.py), which commits what arrived together in one
transaction and only then publishes the acks: a receiver that dies in between leaves the
devices to resend, and the duplicates are then acked like new rows. Status messages and
last wills keep the device registry. A device id seen with two stores at once
(district/stores/sql.py says when) is logged once per newly flagged conflict, as
`event=device_conflict`; its batches are committed and acked as usual.
Callbacks run on paho's network thread; nothing raised there may end that thread.

Every message is hostile until read: a batch or status is parsed at a bounded cost
(district/validate.py: size, nesting), each record is checked into the exact types the
store takes, and a bad record is rejected by name while its neighbours are committed. The
store id is taken in its canonical form (lowercase, hyphenated), and the ack echoes that.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from district.ingest import Incoming, StatusUpdate, Writer
from district.stores.sql import Outcome, SqlStore
from district.validate import (
    MAX_BATCH_RECORDS,
    MAX_STATUS_DEPTH,
    MAX_STATUS_JSON,
    BatchError,
    canonical_store,
    check_envelope,
    decode_payload,
    is_uuid,
    read_json,
)
from models.wire import QOS, ROOT, SCHEMA_ACK, SCHEMA_STATUS, Topics
from runtime import logs
from runtime.mqtt import Brokers, guarded, make_client, network_alive

LOGGED_REJECTIONS = 20      # per batch; the rest are counted in one line


class Receiver:
    def __init__(self, mqtt_url: str | list[str], storage: SqlStore, *, root: str = ROOT,
                 tls: dict | None = None, metrics=None, worker: int | None = None) -> None:
        # `[mqtt] url`, then the `[mqtt] failover` brokers, tried in turn
        self.brokers = Brokers(mqtt_url, keepalive=30, name="receiver")
        self.storage = storage
        self.topics = Topics(root)
        self.refused: list[tuple[str, str]] = []    # (device, reason) of refused batches
        self.batches = 0        # batches this worker committed (and acked)
        self._counting = threading.Lock()   # the writer's threads ack at once
        self.metrics = metrics  # district/metrics.py ReceiverMetrics, when served
        self._tag = {} if worker is None else {"worker": worker}   # of `serve --workers`
        self._connected = threading.Event()
        self._client = self._make_client(tls)
        self.writer = Writer(storage, self._acknowledge)

    @property
    def url(self):
        """The broker connected to, or tried next."""
        return self.brokers.current

    @property
    def connected(self) -> bool:
        """Connected and subscribed: batches published from now on reach this receiver."""
        return self._connected.is_set()

    def start(self) -> None:
        self.writer.start()
        self.brokers.connect(self._client)
        self._client.loop_start()

    @property
    def alive(self) -> bool:
        """The network thread is running (it ends only by stop(), or by a paho bug)."""
        return network_alive(self._client)

    def stop(self) -> None:
        self.writer.stop()      # what is queued is committed and acked first
        self._client.disconnect()
        self._client.loop_stop()

    def _make_client(self, tls: dict | None):
        client = make_client(self.url, client_id=f"district-{uuid.uuid4().hex[:12]}", tls=tls)
        client.reconnect_delay_set(1, 30)
        client.on_connect = guarded("on_connect", self._on_connect)
        client.on_disconnect = guarded("on_disconnect", lambda *args: self._connected.clear())
        # a reconnect that could not reach the broker: on to the next one, if any
        client.on_connect_fail = guarded("on_connect_fail",
                                         lambda client, userdata: self.brokers.failed(client))
        client.on_subscribe = guarded("on_subscribe", self._on_subscribe)
        client.on_message = guarded("on_message", self._on_message)
        client.on_publish = guarded("on_publish", self._on_publish)
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logs.event("receiver_refused", logging.WARNING, reason=str(reason_code))
            return
        client.subscribe([(self.topics.all_records(), QOS), (self.topics.all_status(), QOS)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            logs.event("subscribe_refused", logging.ERROR, reasons=refused)
            return
        self._connected.set()
        logs.event("receiver_ready", host=self.url.hostname)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:      # the ack did not go out; the device will resend
            logs.event("ack_refused_by_broker", logging.WARNING, reason=str(reason_code))

    def _on_message(self, client, userdata, message) -> None:
        levels = self.topics.split(message.topic)
        if levels is None:
            return
        device, kind = levels
        try:
            if kind == "records":
                self._on_batch(device, message)
            elif kind == "status":
                self._on_status(device, message.payload)
        except Exception as exc:   # one bad message must not stop the receiver
            logs.event("receiver_error", logging.ERROR, device=device, topic=message.topic,
                       error=repr(exc))

    def _on_batch(self, device: str, message) -> None:
        arrived = time.monotonic()
        content_type = getattr(message.properties, "ContentType", None)
        batch = None
        try:
            batch = decode_payload(message.payload, content_type)
            check_envelope(batch, device)
        except BatchError as exc:
            self._refuse(device, batch, exc)
            return
        batch["store"] = canonical_store(batch["store"])
        # the rows are made here, while the writer's thread waits on the database
        incoming = Incoming(self.storage.prepare(device, batch), batch, arrived)
        if not self.writer.submit(incoming):
            logs.event("batch_deferred", logging.WARNING, device=device, batch=batch["batch"],
                       records=len(batch["records"]))

    def _acknowledge(self, items: list[Incoming], outcomes: list[Outcome],
                     commit_s: float) -> None:
        """On a writer thread, after the commit: log, ack and count each batch."""
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.conflict:
                logs.event("device_conflict", logging.WARNING, device=item.device,
                           stores=outcome.conflict)
            self._log_rejected(item, outcome.rejected)
            self._ack(item.device, item.batch, outcome.accepted, outcome.rejected)
            with self._counting:
                self.batches += 1
            new = sum(b - a + 1 for a, b in outcome.accepted)   # duplicates acked as accepted
            if self.metrics is not None:
                self.metrics.committed(new - outcome.duplicates, outcome.duplicates,
                                       [entry["reason"] for entry in outcome.rejected],
                                       commit_s, time.monotonic() - item.arrived)
            logs.event("batch_committed", device=item.device, batch=item.batch["batch"],
                       accepted=new, duplicates=outcome.duplicates,
                       rejected=len(outcome.rejected), **self._tag)

    @staticmethod
    def _log_rejected(item: Incoming, rejected: list[dict]) -> None:
        for entry in rejected[:LOGGED_REJECTIONS]:
            logs.event("record_rejected", logging.WARNING, device=item.device,
                       seq=_seq_shown(entry["seq"]), reason=entry["reason"])
        if len(rejected) > LOGGED_REJECTIONS:
            logs.event("records_rejected_unlogged", logging.WARNING, device=item.device,
                       batch=item.batch["batch"], count=len(rejected) - LOGGED_REJECTIONS)

    def _refuse(self, device: str, batch: dict | None, error: BatchError) -> None:
        """Log a refused batch; ack it as all-rejected when it says whose it is."""
        self.refused.append((device, error.reason))
        if self.metrics is not None:
            self.metrics.refused(error.reason)
        logs.event("batch_refused", logging.WARNING, device=device, reason=error.reason,
                   detail=str(error))
        records = batch.get("records") if batch else None
        # an ack names each record: none for a batch beyond what any device sends
        if batch and is_uuid(batch.get("store")) and isinstance(records, list) \
                and len(records) <= MAX_BATCH_RECORDS:
            rejected = [{"seq": r.get("seq"), "reason": error.reason}
                        for r in records if isinstance(r, dict)]
            self._ack(device, {**batch, "store": canonical_store(batch["store"])}, [],
                      rejected)

    def _ack(self, device: str, batch: dict, accepted: list, rejected: list) -> None:
        named = [r for r in rejected if isinstance(r["seq"], int) and
                 not isinstance(r["seq"], bool)]
        ack = {"schema": SCHEMA_ACK, "batch": batch.get("batch"), "store": batch["store"],
               "accepted": accepted, "rejected": named}
        self._client.publish(self.topics.ack(device), json.dumps(ack), qos=QOS)

    def _on_status(self, device: str, payload: bytes) -> None:
        if not payload:
            return      # a retained status being cleared
        try:
            status = read_json(payload, MAX_STATUS_JSON, MAX_STATUS_DEPTH)
        except BatchError as exc:
            logs.event("status_refused", logging.WARNING, device=device, reason=exc.reason)
            return
        if not isinstance(status, dict) or status.get("schema") != SCHEMA_STATUS:
            reason = "unknown_schema"
        elif status.get("device") != device:
            reason = "device_mismatch"
        else:
            self.writer.submit(StatusUpdate(device, status))
            return
        logs.event("status_refused", logging.WARNING, device=device, reason=reason)


def _seq_shown(seq) -> str | int | None:
    """A rejected record's seq for the log: an int as it is, anything else short and in
    ASCII (it came off the wire)."""
    if seq is None or isinstance(seq, int):
        return seq
    text = ascii(seq)
    return text if len(text) <= 40 else text[:37] + "..."
