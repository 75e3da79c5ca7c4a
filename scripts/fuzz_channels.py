"""Fuzz every inbound MQTT channel of a running agent and district receiver.

    .venv/bin/python scripts/fuzz_channels.py [--messages 100000] [--seed 1]
        [--channels bundle,ack,records] [--kinds K,...] [--scan-rate 5] [--slice-s 5]
        [--window 32] [--flood] [--workdir DIR] [--json]        (--help for the rest)

On loopback: a real Mosquitto (tests/support/broker.py), the reference receiver on a
SQLite district store, and a real agent in this process on simulated camera, sensor and
gate, provisioned from a fresh demo district (scripts/make_demo.py) and delivering to
that broker. Once the agent decides and its first record is acknowledged by the
district, N generated messages are published on each chosen channel, all at once:

  bundle   the device's bundle topics (district trust list and revocations, its config
           topic), 3 % retained; consumed by the agent (uplink, then bundle worker)
  ack      the device's ack topic; consumed by the agent's uplink and outbox
  records  the records topic of the device and of other device ids; consumed by the
           receiver, which acks what it commits on those devices' ack topics

The messages (tests/support/channel_messages.py) are seeded and structure-aware: bytes,
broken JSON, valid JSON of hostile shape, and plausible envelopes with mutated fields,
including bundles signed by the demo root over hostile payloads and acks that name the
device's real store for batches it never sent. Each is under 1 MiB and carries the MQTT 5
user property fz=<channel>.<kind>, which the product ignores and the harness counts by.
A child process makes and publishes them (tests/support/channel_publisher.py), so that
the site under test has this process's CPU to itself.

Publishing is QoS 1 and paced end to end, so that no queue overflows unseen and every
message reaches the code that judges it: per channel at most --window messages not yet
PUBACKed and at most --window delivered but not yet processed (a bundle judged by the
bundle worker, an ack settled by the outbox, a batch handled by the receiver), and one
bundle at a time per topic (the agent keeps only the latest of each). --flood paces by
PUBACK only, to see what a flood does. Meanwhile a valid CP1 pass is submitted to the
controller --scan-rate times a second, as the scanner would after reading one.

The stores and the broker live on tmpfs when there is one (what is measured is
robustness, not fsync), and the agent's clock reads the NTP state once a second
(CachedClock; --system-clock for the real one).

Checked (exit 0 only if all hold):
  delivered         every message was PUBACKed, reached its consumer and was processed
                    (not checked with --flood)
  responsive        no message held its consumer (the agent's MQTT thread, the bundle
                    worker, the outbox, the receiver's MQTT thread) over --max-handling-s
  deciding          records were committed in every time slice of the run
  threads_alive     every supervised worker of the agent, paho's network thread of the
                    uplink and of the receiver, and the agent's own loop stayed alive
  synced_held       every record the device marked synced is held by the district, same
                    (store, seq, id): a forged ack that marks records synced fails this
  no_forged_sync    no fuzz message settled a record at all (none names a batch the
                    device sent, so any record one marks synced is a forged ack accepted)
  no_guarded_errors no exception reached a last-resort guard (callback_error,
                    receiver_error, worker_error, worker_died): every hostile message
                    ended in a named refusal
The report (with --json, one JSON object) gives per channel the messages published,
PUBACKed, delivered, processed, megabytes, kinds, the slowest message and time spent;
the agent's and receiver's refusal counters and the refusals logged, by reason; every
guarded error with the kinds that caused it and a sample; decisions per slice; records
synced versus held by the district, and which ack kinds marked records synced; bundles
that were applied (signed by the demo root, so legitimately), with their payload; thread
states; elapsed time. --kinds narrows a run to some kinds (names with or without the
channel prefix) to find which message causes a failure; --workdir keeps the broker log,
the stores and every log line (events.log).
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from district.receiver import Receiver  # noqa: E402
from district.stores.sqlite import DistrictStore  # noqa: E402
from drivers.clock import SystemClock  # noqa: E402
from edge.agent import Agent, AgentFailed  # noqa: E402
from edge.config import Section, load_config  # noqa: E402
from edge.scanner import Scan  # noqa: E402
from models.cp1 import issue_cp1  # noqa: E402
from models.keys import kid_of, load_private_key  # noqa: E402
from models.wire import Topics  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.channel_messages import CHANNELS, kind_names  # noqa: E402
from tests.support.channel_publisher import Shared, Spec  # noqa: E402
from tests.support.channel_publisher import start as start_publishers  # noqa: E402
from tests.support.configs import with_mqtt  # noqa: E402

ISSUER = "CN-BJ-110105"         # the demo district's pass issuer
GUARDED = ("callback_error", "receiver_error", "worker_error", "worker_died", "agent_failed")
SCENE = """# nobody shows a code to the simulated camera; the sensor sees 36.5 C throughout
issuer_key = "demo/issuer-key.pem"
present_s = 100000000.0
gap_s = 0.5
approach_s = 0.5
loop = true
[[person]]
pass = "none"
temperature_c = 36.5
"""


class CachedClock(SystemClock):
    """The system clock, its NTP state read at most once a second: SystemClock.synced()
    looks libc up again on every call (ctypes.util.find_library runs ldconfig, ~2 ms),
    which would bound the bundles judged to a few hundred a second. --system-clock runs
    the agent on SystemClock as it is."""

    def __init__(self) -> None:
        self._synced = (-math.inf, False)
        self._lock = threading.Lock()

    def synced(self) -> bool:
        with self._lock:
            read_at, state = self._synced
            if time.monotonic() - read_at > 1.0:
                state = super().synced()
                self._synced = (time.monotonic(), state)
            return state


_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
_REASON = re.compile(r' reason=("(?:[^"\\]|\\.)*"|\S*)')


# -- counting what happens to the messages -----------------------------------------

@dataclass
class ChannelStats:
    """What the parent sees of one channel's messages: delivered to the consumer's MQTT
    client, processed by it, and where the time went; the child's counts join at the end."""

    name: str
    delivered: int = 0
    processed: int = 0
    superseded: int = 0     # bundles replaced on their topic before the agent judged them
    slowest: dict = field(default_factory=dict)     # where -> (ms, kind)
    busy: dict = field(default_factory=dict)        # where -> seconds spent there
    shared: Shared | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, where: str, seconds: float, kind: str) -> None:
        self.busy[where] = self.busy.get(where, 0.0) + seconds
        ms = seconds * 1000
        if ms > self.slowest.get(where, (0.0, ""))[0]:
            self.slowest[where] = (ms, kind)

    def done(self, superseded: bool = False, topic: str | None = None) -> None:
        """One more message processed (call with the lock held), on `topic` if known."""
        self.processed += 1
        self.superseded += superseded
        if self.shared is not None:
            self.shared.set(self.name, "processed", self.processed)
            if topic is not None:
                self.shared.topic_done(topic)

    def published(self) -> int:
        return self.shared.get(self.name, "published") if self.shared else 0

    def summary(self, child: dict) -> dict:
        took = (child.get("finished") or 0) - (child.get("started") or 0)
        published = child.get("published", self.published())
        return {"published": published, "pubacked": child.get("pubacked"),
                "publish_errors": child.get("publish_errors"), "delivered": self.delivered,
                "processed": self.processed, "superseded": self.superseded,
                "retained": child.get("retained"),
                "megabytes": round(child.get("bytes", 0) / 1e6, 1),
                "seconds": round(took, 1), "per_s": round(published / took) if took > 0 else None,
                "window_stalls": child.get("window_stalls"),
                "longest_wait_s": child.get("longest_wait_s"),
                "gave_up_pacing": child.get("gave_up_pacing"),
                "out_of_time": child.get("out_of_time"), "error": child.get("error"),
                "slowest": {where: {"ms": round(ms, 1), "kind": kind}
                            for where, (ms, kind) in self.slowest.items()},
                "busy_s": {where: round(seconds, 2) for where, seconds in self.busy.items()},
                "kinds": child.get("kinds", {})}


class Probe:
    """Wrappers around the product's entry points for inbound messages: they count and
    time each fuzz message and name its kind in whatever the product logs meanwhile.
    They change nothing: every call goes through, every exception is re-raised."""

    def __init__(self, stats: dict[str, ChannelStats]) -> None:
        self.stats = stats
        self.local = threading.local()
        self.pending: dict[int, list[str]] = {}     # id(item) -> kinds, queued in the agent
        self.lock = threading.Lock()
        self.bundles: dict[str, collections.deque] = {}     # topic -> (payload, kind)
        self.forged_syncs: collections.Counter = collections.Counter()
        self.attached: list[str] = []

    def channel(self, kind: str) -> ChannelStats:
        return self.stats[kind.split(".", 1)[0]]

    def context(self) -> tuple[str | None, object]:
        return getattr(self.local, "kind", None), getattr(self.local, "sample", None)

    def _enter(self, kind, sample) -> None:
        self.local.kind, self.local.sample, self.local.handed = kind, sample, False

    def _hold(self, item, kind: str) -> None:
        with self.lock:
            self.pending.setdefault(id(item), []).append(kind)

    def _take(self, item) -> str | None:
        with self.lock:
            kinds = self.pending.get(id(item))
            if not kinds:
                return None
            kind = kinds.pop(0)
            if not kinds:
                del self.pending[id(item)]
            return kind

    def wrap_on_message(self, client, where: str) -> None:
        inner = client.on_message

        def on_message(paho, userdata, message):
            kind = fuzz_kind(message)
            if kind is None:
                return inner(paho, userdata, message)
            stats = self.channel(kind)
            with stats.lock:
                stats.delivered += 1
            self._enter(kind, message.payload)
            started = time.perf_counter()
            try:
                return inner(paho, userdata, message)
            finally:
                handed = self.local.handed
                self.local.kind = None
                with stats.lock:
                    stats.timed(where, time.perf_counter() - started, kind)
                    if not handed:      # done here: refused, or the product let it go
                        stats.done(topic=message.topic)

        client.on_message = on_message
        self.attached.append(f"{where}.on_message")

    def wrap_bundle_handoff(self, sync) -> None:
        """The uplink hands a bundle (topic, payload) to the bundle worker, which keeps
        only the latest per topic: note it, so that its judging is counted, or its being
        superseded unjudged."""
        inner = sync.on_bundle

        def on_bundle(*args):
            kind = getattr(self.local, "kind", None)
            if kind is not None:
                topic, payload = _topic_payload(args)
                with self.lock:
                    self.bundles.setdefault(topic, collections.deque()).append(
                        (bytes(payload), kind))
                self.local.handed = True
            return inner(*args)

        sync.on_bundle = on_bundle
        self.attached.append("sync.on_bundle")

    def _take_bundle(self, args) -> tuple[str | None, str | None]:
        topic, payload = _topic_payload(args)
        with self.lock:
            waiting = self.bundles.get(topic)
            if not waiting:
                return None, None
            at = next((n for n, (data, _) in enumerate(waiting)
                       if data == payload or data[:len(payload)] == payload), None)
            if at is None:
                return None, None
            for _ in range(at):        # replaced on the topic before they were judged
                _, kind = waiting.popleft()
                stats = self.channel(kind)
                with stats.lock:
                    stats.done(superseded=True, topic=topic)
            return waiting.popleft()[1], topic

    def wrap_handler(self, owner, name: str, where: str, take=None) -> None:
        """`owner.name(item, ...)` handles in a worker what a callback queued earlier (a
        bundle, an ack); `take(args)` names the fuzz kind of it, if it is one, and its
        topic."""
        inner = getattr(owner, name)
        take = take or (lambda args: (self._take(args[0]), None))

        def handle(*args, **kwargs):
            kind, topic = take(args)
            self._enter(kind, args[-1] if args else None)
            started = time.perf_counter()
            try:
                result = inner(*args, **kwargs)
            finally:    # on an exception the context stays set for the guard that logs it
                if kind:
                    stats = self.channel(kind)
                    with stats.lock:
                        stats.done(topic=topic)
                        stats.timed(where, time.perf_counter() - started, kind)
            self.local.kind = None
            if kind and where == "sync.settle" and isinstance(result, int) and result > 0:
                with self.lock:
                    self.forged_syncs[kind] += result
            return result

        setattr(owner, name, handle)
        self.attached.append(where)

    def wrap_inbox(self, sync) -> None:
        """The uplink's callbacks queue acks for its worker; note which were fuzz."""
        inner = sync._queue

        def queue_item(what, item):
            kind = getattr(self.local, "kind", None)
            if kind is None or what != "ack":
                return inner(what, item)
            self._hold(item, kind)
            before = sync.inbox_dropped
            inner(what, item)
            if sync.inbox_dropped != before:
                self._take(item)        # dropped: processed when the callback returns
            else:
                self.local.handed = True
            return None

        sync._queue = queue_item
        self.attached.append("sync.inbox")


def _topic_payload(args) -> tuple[str | None, bytes]:
    """(topic, payload) of on_bundle(topic, payload) or of an older on_bundle(payload)."""
    return (args[0], args[1]) if len(args) >= 2 else (None, args[0] if args else b"")


def fuzz_kind(message) -> str | None:
    properties = getattr(message, "properties", None)
    for key, value in getattr(properties, "UserProperty", None) or ():
        if key == "fz":
            return value
    return None


class EventLog(logging.Handler):
    """Counts the product's log events by name and reason; keeps every guarded error
    with the fuzz kind being handled in that thread when it was logged."""

    REASONED = ("bundle_refused", "ack_malformed", "ack_refused", "ack_ignored",
                "batch_refused", "record_rejected", "status_refused", "message_refused")

    def __init__(self, probe: Probe) -> None:
        super().__init__(logging.INFO)
        self.probe = probe
        self.counts: collections.Counter = collections.Counter()
        self.reasons: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter)
        self.errors: dict[tuple, dict] = {}
        self.applied: list[dict] = []
        self.mutex = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            return
        if not message.startswith("event="):
            return
        name = message[6:].split(" ", 1)[0]
        with self.mutex:
            self.counts[name] += 1
        if name in GUARDED:
            self._guarded(name, message)
        elif name.startswith(("ack_", "bundle_refused", "batch_refused", "record_rejected",
                              "status_refused")) or name in self.REASONED:
            found = _REASON.search(message)
            reason = _unquote(found.group(1)) if found else ""
            with self.mutex:
                self.reasons[name][_normalise(reason)] += 1
        elif name == "bundle_applied" and len(self.applied) < 100:
            kind, sample = self.probe.context()
            self.applied.append({"event": message, "kind": kind, "body": _bundle_body(sample)})

    def _guarded(self, name: str, message: str) -> None:
        fields = _fields(message)
        kind, sample = self.probe.context()
        self.probe.local.kind = None
        where = fields.get("callback") or fields.get("worker") or (
            "receiver" if name == "receiver_error" else "-")
        error = fields.get("error", "")[:160]
        key = (name, where, _signature(error))
        with self.mutex:
            entry = self.errors.setdefault(key, {"event": name, "where": where, "error": error,
                                                 "count": 0, "kinds": collections.Counter(),
                                                 "sample": None})
            entry["count"] += 1
            entry["kinds"][kind or "-"] += 1
            if entry["sample"] is None and sample is not None:
                entry["sample"] = _sample(sample)


def _fields(message: str) -> dict[str, str]:
    out = {}
    for key, value in _FIELD.findall(message):
        out.setdefault(key, _unquote(value))
    return out


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _normalise(reason: str) -> str:
    """A reason with its variable parts (numbers, kids, quoted values) folded."""
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    reason = re.sub(r"[A-Za-z0-9+/=]{12,}", "…", reason)
    return re.sub(r"\d+", "#", reason)[:80]


def _signature(error: str) -> str:
    return re.sub(r"\d+", "#", error.split("(", 1)[0] + "(" + error.split("(", 1)[-1][:40])


def _bundle_body(envelope) -> str | None:
    """The payload of a bundle envelope, as text, for a human to judge what was applied."""
    try:
        data = base64.b64decode(json.loads(envelope)["payload"])
        return data[:400].decode("utf-8", "replace")
    except Exception:
        return None if envelope is None else _sample(envelope)


def _sample(item) -> str:
    if isinstance(item, bytes | bytearray):
        data = bytes(item)
        return f"{len(data)} bytes: {data[:160]!r}"
    try:
        text = repr(item)
    except Exception as exc:        # a structure too deep to print
        text = f"<unprintable: {exc!r}>"
    return text[:200]


# -- the site: broker, district, agent ---------------------------------------------

class Site:
    def __init__(self, work: Path, scan_rate: float, clock) -> None:
        self.work = work
        self.scan_rate = scan_rate
        self.clock = clock
        self.broker: Broker | None = None
        self.district: DistrictStore | None = None
        self.receiver: Receiver | None = None
        self.agent: Agent | None = None
        self.decisions: list[tuple[float, str, bool]] = []  # (monotonic, decision, stored)
        self.max_seq = 1
        self.shared: Shared | None = None       # the publishers' view of max_seq
        self.scans = {"submitted": 0, "refused": 0}
        self.agent_failed: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._resources = contextlib.ExitStack()

    def __enter__(self) -> Site:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        folder = self.work / "broker"
        folder.mkdir(parents=True)
        self.broker = Broker(folder)
        self.broker.start()
        self._resources.callback(self.broker.stop)
        self.device_dir = self.work / "device"
        self.device_dir.mkdir()
        shutil.copy(REPO / "config" / "checkpoint.toml", self.device_dir / "checkpoint.toml")
        (self.device_dir / "fuzz-scene.toml").write_text(SCENE)
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo.py"),
                        str(self.device_dir / "demo")], check=True, capture_output=True)
        config = load_config(self.device_dir / "checkpoint.toml")
        urls = {"camera": "sim://fuzz-scene.toml?fps=4", "thermal": "sim://", "gate": "sim://"}
        config = replace(config, **{name: Section({**getattr(config, name).values, "url": url})
                                    for name, url in urls.items()})
        self.config = with_mqtt(config.with_db(self.work / "device.db"), self.broker.url)
        self.district = DistrictStore(self.work / "district.db")
        self._resources.callback(self.district.close)
        self.receiver = Receiver(self.broker.url, self.district)
        self.receiver.start()
        self._resources.callback(self.receiver.stop)
        self.agent = Agent(self.config, clock=self.clock, on_outcome=self._outcome)
        self._resources.enter_context(self.agent)
        self._resources.callback(self._stop.set)     # the threads end before the agent
        self._thread(self._run_agent, "fuzz-agent-run")
        self._thread(self._inject_scans, "fuzz-scans")

    def _thread(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._resources.close()

    def _outcome(self, outcome) -> None:
        record = outcome.record
        self.decisions.append((time.monotonic(), record.decision, record.seq is not None))
        if record.seq is not None:
            self.max_seq = max(self.max_seq, record.seq)
            if self.shared is not None:
                self.shared.max_seq = self.max_seq

    def _run_agent(self) -> None:
        try:
            self.agent.run(self._stop)
        except AgentFailed as exc:
            self.agent_failed = str(exc)

    def _inject_scans(self) -> None:
        """A valid green pass, as the scanner hands one over, at a steady rate."""
        key = load_private_key((self.device_dir / "demo" / "issuer-key.pem").read_bytes())
        kid = kid_of(key.public_key())
        period = 1.0 / self.scan_rate
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due += period
            now = int(time.time())
            try:
                text = issue_cp1(key, iss=ISSUER, color="green", iat=now, exp=now + 120,
                                 sub=os.urandom(16), cti=os.urandom(16), kid=kid)
                self.scans["submitted"] += 1
                queued = self.agent.controller.submit(
                    Scan(text, self.agent.clock.monotonic(), 0.0))
            except Exception as exc:    # the harness's, or submit() raised: reported
                self.scans["errors"] = self.scans.get("errors", 0) + 1
                self.scans["last_error"] = repr(exc)
                continue
            if queued is False:
                self.scans["refused"] += 1

    def spec(self, args) -> Spec:
        """What the publishing process needs to make its messages."""
        demo = self.device_dir / "demo"
        envelopes = {kind: json.loads((demo / f"{kind}.json").read_text())
                     for kind in ("trustlist", "revocations", "policy")}
        payloads = {kind: json.loads(base64.b64decode(env["payload"]))
                    for kind, env in envelopes.items()}
        unprocessed = {name: None if args.flood else args.window for name in args.channels}
        # The agent keeps only the latest bundle per topic: one at a time there, so that
        # every bundle is judged.
        per_topic = {"bundle": None if args.flood else 1}
        return Spec(host=self.broker.host, port=self.broker.port, channels=args.channels,
                    messages=args.messages, seed=args.seed, kinds=args.kinds,
                    window=args.window, unprocessed=unprocessed, per_topic=per_topic,
                    stuck_s=args.stuck_s, max_seconds=args.max_seconds,
                    bundle_topics=Topics(self.config.mqtt.root).bundles(self.config.device.id),
                    root=self.config.mqtt.root, device=self.config.device.id,
                    store_id=self.agent.store.store_id,
                    root_key_pem=(demo / "root-key.pem").read_bytes(), envelopes=envelopes,
                    payloads=payloads)

    def threads(self) -> dict:
        workers = dict(self.agent.supervisor.states())
        return {"workers": workers, "receiver_network": self.receiver.alive,
                "agent_loop": self.agent_failed is None and self._threads[0].is_alive()}

    def synced_check(self) -> dict:
        """The device's synced records against the district's rows for its store."""
        device, store = self.config.device.id, self.agent.store.store_id
        with contextlib.closing(sqlite3.connect(self.work / "device.db")) as db:
            total = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            synced = set(db.execute("SELECT seq, id FROM records WHERE synced = 1"))
        with contextlib.closing(sqlite3.connect(self.work / "district.db")) as db:
            held = set(db.execute("SELECT seq, id FROM records WHERE device = ? AND store = ?",
                                  (device, store)))
            district_total = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        missing = sorted(synced - held)
        return {"device_records": total, "device_synced": len(synced),
                "district_holds_of_device": len(held),
                "district_holds_of_synced": len(synced & held), "district_rows": district_total,
                "synced_missing": len(missing), "missing_seqs": _ranges([s for s, _ in missing])}


def _ranges(seqs: list[int], limit: int = 8) -> list[str]:
    out: list[list[int]] = []
    for seq in seqs:
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in out]
    return text[:limit] + ([f"... {len(text) - limit} more"] if len(text) > limit else [])


def wait_for(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"setup: no {what} within {timeout:g} s")
        time.sleep(0.05)


# -- the run -----------------------------------------------------------------------

def slices(decisions: list[tuple[float, str, bool]], start: float, end: float,
           slice_s: float) -> list[int]:
    count = max(1, math.floor((end - start) / slice_s))
    length = (end - start) / count
    out = [0] * count
    for at, _, stored in decisions:
        if stored and start <= at < end:
            out[min(count - 1, int((at - start) / length))] += 1
    return out


def fuzz(args, work: Path) -> dict:
    channels = args.channels
    stats = {name: ChannelStats(name) for name in channels}
    probe = Probe(stats)
    events = EventLog(probe)
    logger = logging.getLogger("checkpoint")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [events]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if args.workdir:
        handler = logging.FileHandler(work / "events.log")
        from runtime.logs import LineFormatter
        handler.setFormatter(LineFormatter())
        logger.addHandler(handler)
    started = time.monotonic()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)   # many threads hand messages on: short GIL turns
    try:
        clock = SystemClock() if args.system_clock else CachedClock()
        with Site(work, args.scan_rate, clock) as site:
            return _run(args, site, stats, probe, events, started)
    finally:
        for handler in logger.handlers:
            if handler is not events:
                handler.close()
        logger.handlers[:], logger.level, logger.propagate = saved
        sys.setswitchinterval(switch)


def _run(args, site: Site, stats, probe: Probe, events: EventLog, started: float) -> dict:
    agent = site.agent
    wait_for(lambda: agent.sync.connected and site.receiver.connected, "broker connections", 20)
    wait_for(lambda: any(stored for _, _, stored in site.decisions), "first decision", 30)
    wait_for(lambda: site.synced_check()["district_holds_of_synced"] > 0,
             "first record acknowledged by the district", 60)
    _attach(probe, agent, site.receiver)
    child = start_publishers(site.spec(args), site.work / "publishers")
    site.shared = child.shared
    child.shared.max_seq = site.max_seq
    for s in stats.values():
        s.shared = child.shared
    t0 = time.monotonic()
    child.go()
    dead_seen: dict[str, float] = {}
    first_missing: float | None = None
    next_check = t0 + args.slice_s
    throughput: dict[str, list[int]] = {name: [] for name in stats}    # per slice
    last = dict.fromkeys(stats, 0)

    def watch() -> None:
        nonlocal first_missing, next_check
        for name, alive in _alive(site.threads()).items():
            if not alive:
                dead_seen.setdefault(name, round(time.monotonic() - t0, 1))
        if time.monotonic() >= next_check:
            next_check += args.slice_s
            for name, s in stats.items():
                throughput[name].append(s.processed - last[name])
                last[name] = s.processed
            if first_missing is None and site.synced_check()["synced_missing"]:
                first_missing = round(time.monotonic() - t0, 1)

    def finished() -> bool:
        return all(s.published() >= args.messages and (args.flood or s.processed >= args.messages)
                   for s in stats.values())

    while child.alive() and not finished():
        watch()
        time.sleep(0.25)
    results = child.result(timeout=120)
    fuzz_end = time.monotonic()
    tail_end = max(fuzz_end + args.tail_s, t0 + args.min_s)
    while time.monotonic() < tail_end:
        watch()
        time.sleep(0.25)
    watch()
    threads = site.threads()
    counters = agent.health().get("counters", {})
    per_slice = slices(site.decisions, t0, tail_end, args.slice_s)
    receiver = {"batches_committed": site.receiver.batches,
                "batches_refused": len(site.receiver.refused)}
    # counted before the stop: a client that is stopping has its last messages dropped
    dropped = _broker_drops(site.work / "broker" / "mosquitto.log")
    site.close()        # the agent stops: its last records are committed
    synced = site.synced_check()
    if first_missing is None and synced["synced_missing"]:
        first_missing = round(time.monotonic() - t0, 1)
    window = [d for d in site.decisions if t0 <= d[0] < tail_end]
    channels = {name: {**s.summary(results.get(name, {})),
                       "processed_per_slice": _compact(throughput[name], args.slice_s)}
                for name, s in stats.items()}
    invariants = {
        "delivered": args.flood or bool(results) and not dropped and all(
            c["published"] == args.messages and c["pubacked"] == c["published"]
            and not c["publish_errors"] and not c["error"]
            and c["delivered"] == c["published"] and c["processed"] == c["published"]
            for c in channels.values()),
        "responsive": all(v["ms"] <= args.max_handling_s * 1000 for c in channels.values()
                          for v in c["slowest"].values()),
        "deciding": min(per_slice) > 0,
        "threads_alive": not dead_seen and all(_alive(threads).values()),
        "synced_held": synced["synced_missing"] == 0,
        "no_forged_sync": not probe.forged_syncs,
        "no_guarded_errors": not any(events.counts[name] for name in GUARDED),
    }
    return {
        "seed": args.seed, "messages_per_channel": args.messages,
        "channels": channels, "publisher_error": results.get("error"),
        "broker_dropped_lines": dropped,
        "fuzz_seconds": round(fuzz_end - t0, 1),
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "decisions": {
            "total": len(window), "stored": sum(stored for _, _, stored in window),
            "by_decision": dict(collections.Counter(d for _, d, _ in window)),
            "slice_s": round((tail_end - t0) / len(per_slice), 2), "per_slice": per_slice,
            "min_per_slice": min(per_slice), "scans_submitted": site.scans["submitted"],
            "scans_refused_by_full_queue": site.scans["refused"],
            "scan_errors": site.scans.get("errors", 0),
            "last_scan_error": site.scans.get("last_error")},
        "sync": {**synced, "first_missing_after_s": first_missing,
                 "marked_synced_by_fuzz_ack_kind": dict(probe.forged_syncs.most_common())},
        "threads": {**threads, "died_at_s": dead_seen},
        "receiver": receiver,
        "agent_counters": counters,
        "events": dict(events.counts.most_common()),
        "refusals": {name: dict(reasons.most_common(12))
                     for name, reasons in sorted(events.reasons.items())},
        "guarded_errors": sorted(
            ({**e, "kinds": dict(e["kinds"].most_common(6))} for e in events.errors.values()),
            key=lambda e: -e["count"]),
        "bundles_applied": events.applied,
        "probes": probe.attached,
        "invariants": invariants, "ok": all(invariants.values()),
    }


def _compact(counts: list[int], slice_s: float, most: int = 40) -> dict:
    """A long series as at most `most` numbers: sums of consecutive slices."""
    step = max(1, math.ceil(len(counts) / most))
    return {"slice_s": slice_s * step,
            "counts": [sum(counts[n:n + step]) for n in range(0, len(counts), step)]}


def _attach(probe: Probe, agent, receiver) -> None:
    """Every wrapper the product's current shape allows; a missing one is reported, and a
    channel whose worker-side handler cannot be wrapped is counted as processed when its
    callback returns."""
    sync = agent.sync
    wait_for(lambda: getattr(sync, "_outbox", None) is not None, "uplink outbox", 10)
    steps = [
        (("agent", lambda: probe.wrap_on_message(sync._client, "agent")),),
        (("receiver", lambda: probe.wrap_on_message(receiver._client, "receiver")),),
        (("bundle judging", lambda: probe.wrap_handler(agent.bundles, "apply", "bundles.apply",
                                                       take=probe._take_bundle)),
         ("bundle handoff", lambda: probe.wrap_bundle_handoff(sync))),
        (("ack settling", lambda: probe.wrap_handler(sync._outbox, "settle", "sync.settle")),
         ("ack inbox", lambda: probe.wrap_inbox(sync))),
    ]
    for pair in steps:
        for name, attach in pair:
            try:
                attach()
            except AttributeError as exc:
                probe.attached.append(f"{name}: not attached ({exc})")
                break       # without its handler, a handoff would never count as done


def _alive(threads: dict) -> dict[str, bool]:
    alive = {name: state == "running" for name, state in threads["workers"].items()}
    alive["receiver-network"] = threads["receiver_network"]
    alive["agent-loop"] = threads["agent_loop"]
    return alive


def _broker_drops(log: Path) -> int:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0
    return sum("dropped" in line.lower() for line in text.splitlines())


# -- output ------------------------------------------------------------------------

def print_report(report: dict) -> None:
    out = sys.stdout
    mark = {True: "ok", False: "FAIL"}
    print(f"fuzz_channels: seed {report['seed']}, {report['messages_per_channel']} messages "
          f"per channel, fuzz {report['fuzz_seconds']} s, elapsed "
          f"{report['elapsed_seconds']} s", file=out)
    print(f"{'channel':9} {'published':>9} {'pubacked':>9} {'delivered':>9} {'processed':>9} "
          f"{'per_s':>6} {'MB':>6}  slowest", file=out)
    for name, s in report["channels"].items():
        slowest = ", ".join(f"{w} {v['ms']} ms ({v['kind']})" for w, v in s["slowest"].items())
        print(f"{name:9} {s['published']:>9} {s['pubacked']:>9} {s['delivered']:>9} "
              f"{s['processed']:>9} {s['per_s'] or 0:>6} {s['megabytes']:>6}  {slowest}",
              file=out)
    counted = {k: v for k, v in report["agent_counters"].items()
               if re.search("refused|ignored|malformed|superseded|dropped|failed|errors", k)}
    print(f"agent counters: {counted}; receiver: {report['receiver']}", file=out)
    for name, reasons in report["refusals"].items():
        total = report["events"].get(name, 0)
        top = "; ".join(f"{r or '-'} {n}" for r, n in list(reasons.items())[:6])
        print(f"logged: {name} {total} ({top})", file=out)
    d = report["decisions"]
    print(f"decisions: {d['stored']} stored {d['by_decision']} in {len(d['per_slice'])} "
          f"slices of {d['slice_s']} s, min {d['min_per_slice']} per slice; scans "
          f"{d['scans_submitted']}, refused by a full queue {d['scans_refused_by_full_queue']}",
          file=out)
    s = report["sync"]
    print(f"sync: device {s['device_records']} records, {s['device_synced']} synced, district "
          f"holds {s['district_holds_of_synced']} of those; missing {s['synced_missing']}"
          f" {s['missing_seqs']}"
          + (f", first seen {s['first_missing_after_s']} s in" if s['synced_missing'] else ""),
          file=out)
    if s["marked_synced_by_fuzz_ack_kind"]:
        print(f"  marked synced by fuzz acks: {s['marked_synced_by_fuzz_ack_kind']}", file=out)
    t = report["threads"]
    dead = {k: v for k, v in _alive(t).items() if not v}
    print(f"threads: {len(t['workers'])} agent threads, receiver network "
          f"{'alive' if t['receiver_network'] else 'DEAD'}; dead: {dead or 'none'}"
          + (f"; died at {t['died_at_s']}" if t["died_at_s"] else ""), file=out)
    for error in report["guarded_errors"]:
        print(f"guarded error x{error['count']}: {error['event']} in {error['where']}: "
              f"{error['error']}\n  kinds {error['kinds']}\n  sample {error['sample']}",
              file=out)
    applied = report["bundles_applied"]
    if applied:
        kinds = collections.Counter(a["kind"] for a in applied)
        print(f"bundles applied (signed by the demo root): {len(applied)} {dict(kinds)}",
              file=out)
    for line in report["probes"]:
        if "not attached" in line:
            print(f"probe {line}", file=out)
    print("invariants: " + ", ".join(f"{k} {mark[bool(v)]}"
                                    for k, v in report["invariants"].items()), file=out)


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000,
                        help="messages per channel (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--channels", default=",".join(CHANNELS),
                        help="comma-separated: bundle,ack,records")
    parser.add_argument("--kinds", default="",
                        help="only these kinds, e.g. ack.forged_full_range,deep")
    parser.add_argument("--scan-rate", type=float, default=5.0, help="valid scans per second")
    parser.add_argument("--slice-s", type=float, default=5.0,
                        help="decisions must be stored in every slice this long")
    parser.add_argument("--tail-s", type=float, default=2.0,
                        help="keep deciding this long after the last message")
    parser.add_argument("--min-s", type=float, default=4.0, help="shortest observed run")
    parser.add_argument("--window", type=int, default=32,
                        help="messages per channel unacknowledged or unprocessed at once")
    parser.add_argument("--max-handling-s", type=float, default=10.0,
                        help="longest a consumer may take over one message (the receiver's "
                             "MQTT keepalive is 30 s)")
    parser.add_argument("--stuck-s", type=float, default=120.0,
                        help="a consumer that processes nothing this long while messages "
                             "wait is stuck (or lost them): pace that channel by PUBACK only")
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="stop publishing after this long (the run then fails delivered)")
    parser.add_argument("--flood", action="store_true",
                        help="pace by PUBACK only: let the consumers' queues overflow")
    parser.add_argument("--workdir", type=Path,
                        help="keep the broker, stores and events.log here (default: a "
                             "temporary folder, removed)")
    parser.add_argument("--system-clock", action="store_true",
                        help="run the agent on SystemClock unchanged (slower: see CachedClock)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    args.channels = [c for c in args.channels.split(",") if c]
    unknown = sorted(set(args.channels) - set(CHANNELS))
    if unknown or not args.channels:
        parser.error(f"--channels: unknown {', '.join(unknown) or '(none given)'}; "
                     f"allowed: {', '.join(CHANNELS)}")
    if args.messages < 1 or args.window < 1 or args.scan_rate <= 0 or args.slice_s <= 0:
        parser.error("--messages, --window, --scan-rate and --slice-s must be positive")
    args.kinds = {k for k in args.kinds.split(",") if k} or None
    for name in args.channels if args.kinds else ():
        kinds = kind_names(name)
        if not any(k in args.kinds or f"{name}.{k}" in args.kinds for k in kinds):
            parser.error(f"--kinds: none of the {name} channel's kinds; allowed: "
                         f"{', '.join(kinds)}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=False)
            report = fuzz(args, args.workdir)
        else:
            # tmpfs when there is one: the run measures robustness, not fsync
            shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
            with tempfile.TemporaryDirectory(prefix="fuzz-channels-", dir=shm) as work:
                report = fuzz(args, Path(work))
    except (RuntimeError, FileExistsError, subprocess.CalledProcessError) as exc:
        print(f"fuzz_channels: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
