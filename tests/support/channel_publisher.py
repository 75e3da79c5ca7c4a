"""The fuzz messages of scripts/fuzz_channels.py, generated and published by a child process.

The site under test (agent, receiver) runs in the parent; generating hostile messages and
pushing them through paho costs about as much CPU again, so it runs in a process of its
own (`python -m tests.support.channel_publisher FOLDER`, so it imports nothing of the
parent) and the two share only a few counters in a file both map:

    Shared(path)               per channel: published, pubacked, refused (PUBACK >= 0x80
                               or a publish that failed), processed (written by the
                               parent's probes); per bundle topic: processed; the
                               device's highest seq; the child's ready and go flags
    start(spec, folder)        the child process; it connects one MQTT client per
                               channel, says ready, waits for go(), publishes, drains,
                               and prints each channel's summary, which result() returns

Each channel is paced by two windows: at most `window` messages not yet PUBACKed, and at
most `unprocessed[channel]` published but not yet processed by the consumer (None: no
such limit, a flood), and by `per_topic[channel]` on one topic (the agent keeps only the
latest bundle of each topic, so one at a time per topic has every bundle judged). A
wait longer than STALL_S is counted (and the longest kept); one longer than `stuck_s`
gives up on the consumer (it is stuck, or lost a message), and the channel goes on paced
by PUBACKs alone.
"""

from __future__ import annotations

import collections
import json
import mmap
import pickle
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from models.wire import Topics
from tests.support.channel_messages import CHANNELS, Context, Generators

SLOTS = ("published", "pubacked", "refused", "processed")
FLAGS = ("ready", "go", "max_seq")
TOPIC_SLOTS = 8
STALL_S = 5.0
DRAIN_S = 60.0


class Shared:
    """Counters both processes see, in a small file both map (on tmpfs, memory): one
    writer per slot, so no lock is needed. `topics` (the bundle topics) get a processed
    count each, for pacing per topic."""

    SIZE = 8 * (len(CHANNELS) * len(SLOTS) + len(FLAGS) + TOPIC_SLOTS)

    def __init__(self, path: Path, topics: tuple[str, ...] = (), create: bool = False) -> None:
        if create:
            path.write_bytes(bytes(self.SIZE))
        self.path, self.topics = path, tuple(topics)
        with open(path, "r+b") as handle:
            self._map = mmap.mmap(handle.fileno(), self.SIZE)
        self.values = memoryview(self._map).cast("q")

    def _at(self, index: int) -> int:
        return self.values[index]

    def index(self, channel: str, slot: str) -> int:
        return CHANNELS.index(channel) * len(SLOTS) + SLOTS.index(slot)

    def _flag(self, name: str) -> int:
        return len(CHANNELS) * len(SLOTS) + FLAGS.index(name)

    def get(self, channel: str, slot: str) -> int:
        return self.values[self.index(channel, slot)]

    def set(self, channel: str, slot: str, value: int) -> None:
        self.values[self.index(channel, slot)] = value

    def flag(self, name: str) -> int:
        return self.values[self._flag(name)]

    def set_flag(self, name: str, value: int) -> None:
        self.values[self._flag(name)] = value

    @property
    def max_seq(self) -> int:
        return self.flag("max_seq")

    @max_seq.setter
    def max_seq(self, value: int) -> None:
        self.set_flag("max_seq", value)

    def _topic(self, topic: str) -> int | None:
        if topic not in self.topics or self.topics.index(topic) >= TOPIC_SLOTS:
            return None
        return len(CHANNELS) * len(SLOTS) + len(FLAGS) + self.topics.index(topic)

    def topic_done(self, topic: str) -> None:
        at = self._topic(topic)
        if at is not None:
            self.values[at] += 1

    def topic_processed(self, topic: str) -> int | None:
        at = self._topic(topic)
        return None if at is None else self.values[at]


@dataclass
class Spec:
    """What the child needs, picklable."""

    host: str
    port: int
    channels: list[str]
    messages: int
    seed: int
    kinds: set[str] | None
    window: int
    unprocessed: dict[str, int | None]
    per_topic: dict[str, int | None]       # at most this many unprocessed on one topic
    stuck_s: float                          # a wait this long gives up pacing
    max_seconds: float                      # publishing stops after this long
    bundle_topics: tuple[str, ...]
    root: str
    device: str
    store_id: str
    root_key_pem: bytes
    envelopes: dict[str, dict]
    payloads: dict[str, dict]


class Child:
    """The parent's handle on the publishing process (`python -m` this module, so that
    it imports nothing of whoever started it)."""

    def __init__(self, spec: Spec, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "spec.pickle").write_bytes(pickle.dumps(spec))
        self.shared = Shared(folder / "counters", spec.bundle_topics, create=True)
        self.errors = folder / "stderr.txt"
        with open(self.errors, "wb") as errors:     # a file: a full pipe would block it
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.channel_publisher", str(folder)],
                cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                stderr=errors)
        deadline = time.monotonic() + 60
        while not self.shared.flag("ready"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"the publishing process did not start: {self._stderr()}")
            time.sleep(0.02)

    def go(self) -> None:
        self.shared.set_flag("go", 1)

    def alive(self) -> bool:
        return self.process.poll() is None

    def result(self, timeout: float) -> dict:
        """Each channel's summary, once the child has drained ({} if it failed)."""
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        try:
            return json.loads(out)
        except ValueError:
            return {"error": self._stderr() or f"exit status {self.process.returncode}"}

    def _stderr(self) -> str:
        return self.errors.read_text(errors="replace")[-2000:]


def start(spec: Spec, folder: Path) -> Child:
    return Child(spec, folder)


def main(folder: Path) -> None:
    from models.keys import kid_b64, kid_of, load_private_key

    spec: Spec = pickle.loads((folder / "spec.pickle").read_bytes())
    shared = Shared(folder / "counters", spec.bundle_topics)
    root = load_private_key(spec.root_key_pem)
    context = Context(device=spec.device, store_id=spec.store_id, root_key=root,
                      root_kid=kid_b64(kid_of(root.public_key())), envelopes=spec.envelopes,
                      payloads=spec.payloads, max_seq=lambda: max(1, shared.max_seq),
                      topics=Topics(spec.root))
    generators = Generators(context, spec.seed, only=spec.kinds)
    publishers = [_Publisher(name, spec, generators, shared) for name in spec.channels]
    shared.set_flag("ready", 1)
    while not shared.flag("go"):
        time.sleep(0.01)
    for publisher in publishers:
        publisher.thread.start()
    for publisher in publishers:
        publisher.thread.join()
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline and not all(p.drained() for p in publishers):
        time.sleep(0.05)
    print(json.dumps({p.channel: p.summary() for p in publishers}))
    for publisher in publishers:
        publisher.stop()


class _Publisher:
    """One channel's messages on its own MQTT connection."""

    def __init__(self, channel: str, spec: Spec, generators: Generators, shared: Shared):
        from paho.mqtt import client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.channel, self.generators, self.shared = channel, generators, shared
        self.total, self.window = spec.messages, spec.window
        self.stuck_s, self.max_seconds = spec.stuck_s, spec.max_seconds
        self.out_of_time = False
        self.unprocessed = spec.unprocessed.get(channel)
        self.per_topic = spec.per_topic.get(channel)
        self.sent: collections.Counter = collections.Counter()      # by topic
        self.inflight = threading.BoundedSemaphore(spec.window)
        self.published = self.pubacked = self.refused = 0
        self.bytes = self.retained = self.stalls = 0
        self.longest_wait = 0.0
        self.gave_up = False
        self.kinds: collections.Counter = collections.Counter()
        self.errors: collections.Counter = collections.Counter()
        self.error: str | None = None
        self.started = self.finished = None
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"fuzz-{channel}-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(spec.window)
        self.client.on_publish = self._on_publish
        self.client.connect(spec.host, spec.port, keepalive=60)
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, name=f"fuzz-{channel}", daemon=True)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self.pubacked += 1
            if reason_code.is_failure:
                self.refused += 1
                self.errors[str(reason_code)] += 1
            self.shared.set(self.channel, "pubacked", self.pubacked)
            self.shared.set(self.channel, "refused", self.refused)
        self.inflight.release()

    def _processed(self) -> int:
        return self.shared.get(self.channel, "processed")

    def _busy(self, topic: str) -> bool:
        if self.published - self._processed() >= self.unprocessed:
            return True
        done = self.shared.topic_processed(topic) if self.per_topic else None
        return done is not None and self.sent[topic] - done >= self.per_topic

    def _wait_for_consumer(self, topic: str) -> None:
        if self.unprocessed is None:
            return
        started = time.monotonic()
        while self._busy(topic):
            waited = time.monotonic() - started
            if waited > self.stuck_s:
                self.gave_up, self.unprocessed = True, None
                break
            time.sleep(0.0002 if waited < 0.1 else 0.01)
        waited = time.monotonic() - started
        self.longest_wait = max(self.longest_wait, waited)
        self.stalls += waited > STALL_S

    def _run(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.started = time.monotonic()
        deadline = self.started + self.max_seconds
        try:
            for _ in range(self.total):
                if time.monotonic() > deadline:
                    self.out_of_time = True
                    break
                message = self.generators.next(self.channel)
                properties = Properties(PacketTypes.PUBLISH)
                properties.UserProperty = ("fz", message.kind)
                if message.content_type is not None:
                    properties.ContentType = message.content_type
                self._wait_for_consumer(message.topic)
                self.inflight.acquire()
                self.published += 1
                self.sent[message.topic] += 1
                self.bytes += len(message.payload)
                self.kinds[message.kind] += 1
                self.retained += message.retain
                self.shared.set(self.channel, "published", self.published)
                info = self.client.publish(message.topic, message.payload, qos=1,
                                           retain=message.retain, properties=properties)
                if info.rc != 0:
                    with self._lock:
                        self.refused += 1
                        self.errors[f"publish rc={info.rc}"] += 1
                        self.shared.set(self.channel, "refused", self.refused)
                    self.inflight.release()
        except Exception as exc:       # a harness bug: reported, never hidden
            self.error = repr(exc)
        self.finished = time.monotonic()

    def drained(self) -> bool:
        acked = self.pubacked + sum(n for what, n in self.errors.items()
                                    if what.startswith("publish rc"))
        consumed = self.unprocessed is None or self._processed() >= self.published
        return acked >= self.published and consumed

    def summary(self) -> dict:
        return {"published": self.published, "pubacked": self.pubacked,
                "publish_errors": dict(self.errors), "bytes": self.bytes,
                "retained": self.retained, "window_stalls": self.stalls,
                "longest_wait_s": round(self.longest_wait, 1), "gave_up_pacing": self.gave_up,
                "out_of_time": self.out_of_time,
                "started": self.started, "finished": self.finished, "error": self.error,
                "kinds": dict(self.kinds.most_common())}

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
