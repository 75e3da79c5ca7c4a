"""From the agent's threads to every open console page: the newest events, fanned out.

The controller and the health watcher call `publish` from their own threads; each page's
server-sent-event stream holds one bounded asyncio queue on the server's event loop. A
page that does not keep up loses its oldest events, never slows the controller, and a
page that connects gets the current state first (the last decision, today's counts, the
health), so a reload shows what a guard needs at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter

CLIENT_QUEUE = 32       # events a slow page may lag behind before the oldest go


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self.last_decision: dict | None = None
        self.health: dict = {}
        self.counts: Counter = Counter()
        self.day: str | None = None
        self.settings: dict = {}        # what the page may offer (preview, card)

    def decision(self, view: dict) -> None:
        """A committed decision (edge/console/views.py `decision_view`)."""
        with self._lock:
            day = view["ts"][:10]
            if day != self.day:
                self.day, self.counts = day, Counter()
            self.counts[view["decision"]] += 1
            self.last_decision = view
        self.publish("decision", view)
        self.publish("counts", dict(self.counts))

    def set_health(self, health: dict) -> None:
        with self._lock:
            changed = health != self.health
            self.health = health
        if changed:
            self.publish("health", health)

    def snapshot(self) -> list[tuple[str, dict]]:
        with self._lock:
            events = [("settings", self.settings), ("health", self.health),
                      ("counts", dict(self.counts))]
            if self.last_decision:
                events.append(("decision", self.last_decision))
            return events

    def publish(self, kind: str, data: dict) -> None:
        text = sse(kind, data)
        with self._lock:
            clients = list(self._clients)
        for loop, queue in clients:
            loop.call_soon_threadsafe(_offer, queue, text)

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        with self._lock:
            self._clients.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._clients = {c for c in self._clients if c[1] is not queue}


def sse(kind: str, data: dict) -> str:
    """One server-sent event."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _offer(queue: asyncio.Queue, text: str) -> None:
    if queue.full():
        queue.get_nowait()      # the oldest goes: the page shows the newest state
    queue.put_nowait(text)
