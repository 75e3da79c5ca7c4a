"""The agent: builds the drivers and workers a config describes, runs them, stops them.

Start order is trust, store, gate, thermal, bundles, sync, controller, card reader,
camera, scanner;
stop is the reverse, so no worker outlives what it feeds, and the controller drains its
queue before the store closes. One stop event ends everything.

Every thread is supervised: the agent's workers and the drivers' own threads are adopted
by one Supervisor, and paho's network thread is probed. While running, the agent looks
at them every TICK_S: a thread that died makes `run()` raise AgentFailed, after which the
stop publishes `online: false` with the alarm `worker_died` (retained) and the command
exits non-zero, so that systemd starts a fresh process. A change in the health of the
camera, the sensor or the gate wakes the uplink, which publishes the status at once.

Under systemd (`Type=notify`) `run()` says READY=1, keeps a one-line STATUS=, and pings
the watchdog (WATCHDOG=1, at half of WatchdogSec) only while no supervised thread is
dead: a dead part stops the pings, so systemd restarts the service even if the stop
hangs. With `[metrics] listen` set it serves the Prometheus endpoint (edge/metrics.py).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable

from drivers import registry
from drivers.clock import SystemClock
from drivers.qr import make_decoder
from edge import status
from edge.bundles import Bundles
from edge.cards import CardWorker, Taps
from edge.config import Config
from edge.controller import Controller, Outcome
from edge.metrics import DecisionCounts
from edge.scanner import Scanner
from edge.screening import ScreeningSettings
from edge.store import Store
from edge.sync import Sync
from edge.thermal import ThermalMonitor
from edge.trust import load_configured_trust
from models.cards import CardKeyError, read_card_key
from models.verify import verify_pass
from runtime import logs, sdnotify
from runtime.worker import Supervisor

TICK_S = 0.25       # how often the agent looks at its threads and the drivers' health


class AgentError(Exception):
    """The agent cannot start as configured; the message is meant for the user."""


class AgentFailed(Exception):
    """A part of the running agent died; the message names it."""


def build_scene(config: Config, clock):
    """The simulated people at the gate (drivers.sim.scene.Scene), when the camera is
    simulated: the simulated camera and sensor share it."""
    spec = registry.parse("camera", config.camera.url)
    if spec.scheme != "sim":
        return None
    from drivers.sim.scene import Scene

    if spec.target:
        return Scene.load(spec.path(config.base_dir), clock)
    return Scene.default(clock, key_path=config.base_dir / "demo" / "issuer-key.pem")


class Agent:
    def __init__(self, config: Config, *, clock=None,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 verify=verify_pass, console: bool = False) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.on_outcome = on_outcome
        self.verify = verify        # the pass verifier; fault tests give a failing one
        self.supervisor = Supervisor()
        self.failed: list[str] = []     # the threads that died, once one has
        self._resources = contextlib.ExitStack()
        self.store: Store | None = None
        self.controller: Controller | None = None
        self.sync: Sync | None = None
        self.bundles: Bundles | None = None
        self.scene = None           # the simulated people, when the camera is simulated
        self.serve_console = console    # serve the guard console on [console] listen
        self.console = None         # its hub (edge/console/hub.py), once serving
        self.decisions = DecisionCounts()   # committed decisions, for status and metrics
        self.metrics = None         # edge/metrics.py Metrics, when [metrics] listen is set
        self.notifier = sdnotify.Notifier()     # systemd's notify socket, when there is one
        self._parts: dict = {}      # camera, sensor, gate, scanner, monitor

    def __enter__(self) -> Agent:
        try:
            self._open()
        except BaseException:
            self._resources.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.notifier.stopping()
        self._resources.close()
        logs.event("stopped", device=self.config.device.id)

    def _open(self) -> None:
        cfg, clock, push = self.config, self.clock, self._resources.enter_context
        trust = load_configured_trust(cfg.trust)
        taps = Taps() if cfg.reader.url else None
        self.store = push(Store(cfg.store.path, recover=True))
        scene = self.scene = build_scene(cfg, clock)
        gate = self._parts["gate"] = push(registry.open_gate(cfg.gate.url, clock=clock))
        controller = Controller(
            store=self.store, trust=trust, gate=gate, clock=clock, verify=self.verify,
            gate_name=cfg.device.gate, on_outcome=self.on_outcome,
            on_commit=lambda: self.sync.notify(), thermal=self._thermal(scene), taps=taps)
        controller.listeners.append(self.decisions)
        # Bundles and sync start before the controller so they stop after it: the last
        # records committed while stopping are still offered, then `online: false` is sent.
        self.bundles = self._started(Bundles(controller, clock,
                                             on_applied=lambda: self.sync.notify()))
        self.sync = self._started(self._uplink(self.bundles))
        self.controller = self._started(controller)
        if taps is not None:
            self._cards(taps, scene)
        camera = self._parts["camera"] = push(registry.open_camera(
            cfg.camera.url, base_dir=cfg.base_dir, clock=clock, scene=scene))
        self._parts["scanner"] = self._started(
            Scanner(camera, make_decoder("auto"), self.controller.submit, clock=clock))
        for part in (camera, self._parts["sensor"]):
            self.supervisor.adopt(*part.workers)
        self.supervisor.probe("mqtt-network", lambda: self.sync.network_alive)
        if self.serve_console:
            self._console()
        if cfg.metrics.listen:
            self._metrics()
        logs.event("started", device=cfg.device.id, gate=cfg.device.gate,
                   camera=camera.describe(), thermal=cfg.thermal.url, store=self.store.path,
                   store_id=self.store.store_id, records=self.store.count())
        self._warn_if_clock_unsafe()

    def _warn_if_clock_unsafe(self) -> None:
        """No NTP sync and no RTC: after a power cut the records' times start from 1970."""
        from drivers.clock import rtc_device

        if not self.clock.synced() and rtc_device() is None:
            logs.event("clock_unsafe", logging.WARNING,
                       note="no network time sync and no real-time clock: decisions are "
                            "recorded with clock_synced false until time is synced")

    def _uplink(self, bundles: Bundles) -> Sync:
        cfg = self.config
        try:
            return Sync(cfg.mqtt_urls, device=cfg.device.id, store_path=cfg.store.path,
                        clock=self.clock, root=cfg.mqtt.root, tls=_tls(cfg),
                        retention_days=cfg.store.retention_days, health=self.health,
                        on_bundle=bundles.submit)
        except (OSError, ValueError) as exc:    # ssl.SSLError is an OSError
            raise AgentError(f"[mqtt] TLS files cannot be used: {exc}") from None

    def _thermal(self, scene) -> ThermalMonitor:
        cfg = self.config
        sensor = self._parts["sensor"] = self._resources.enter_context(
            registry.open_thermal(cfg.thermal.url, clock=self.clock, scene=scene))
        settings = ScreeningSettings(ambient_coeff=cfg.thermal.ambient_coeff,
                                     ambient_ref_c=cfg.thermal.ambient_ref_c)
        monitor = self._parts["monitor"] = self._started(ThermalMonitor(
            sensor, clock=self.clock, offset_c=cfg.thermal.offset_c, settings=settings))
        return monitor

    def _cards(self, taps: Taps, scene) -> None:
        """The card reader: each tap is a token at once, kept for the controller."""
        cfg = self.config
        if cfg.trust.card_key is None:
            raise AgentError("[trust] card_key: missing; a card reader is configured and "
                             "its taps are kept only as tokens made with this key")
        try:
            key = read_card_key(cfg.trust.card_key)
        except CardKeyError as exc:
            raise AgentError(str(exc)) from None
        reader = self._parts["reader"] = self._resources.enter_context(
            registry.open_reader(cfg.reader.url, clock=self.clock, scene=scene))
        self.supervisor.adopt(*reader.workers)
        self._parts["cards"] = self._started(CardWorker(
            reader, key, taps, clock=self.clock, on_tap=self.controller.submit))

    def _console(self) -> None:
        """The guard console: its page is fed every committed record and the health."""
        from edge.console.hub import Hub
        from edge.console.server import ConsoleServer, make_app
        from edge.console.views import decision_view
        from edge.guards import Guards, GuardsError, read_guards

        cfg = self.config
        try:
            guards = Guards(read_guards(cfg.console.guards), self.clock) \
                if cfg.console.guards else None
        except GuardsError as exc:
            raise AgentError(f"[console] {exc}") from None
        hub = Hub()
        self.controller.listeners.append(
            lambda record, name: hub.decision(decision_view(record, name)))
        preview = self._preview if cfg.console.preview else None
        hub.settings = {"preview": preview is not None}
        hub.settings["card"] = self.controller.taps is not None
        server = ConsoleServer(make_app(hub, guards, self.controller.submit, preview,
                                        taps=self.controller.taps, clock=self.clock),
                               cfg.console.listen)
        try:
            server.start()
        except OSError as exc:
            raise AgentError(str(exc)) from None
        self._resources.callback(server.stop)
        self.supervisor.probe("console", lambda: server.alive)
        self.console = hub
        hub.set_health(self._console_health())

    def _metrics(self) -> None:
        """The Prometheus endpoint: the same health as the status, read at each scrape."""
        from edge.metrics import Metrics
        from runtime.metrics_http import MetricsServer

        metrics = self.metrics = Metrics(self, self.decisions)
        self._parts["scanner"].decode_listeners.append(metrics.decoded)
        try:
            self._started(MetricsServer(self.config.metrics.listen, metrics.render))
        except OSError as exc:
            raise AgentError(str(exc)) from None

    def _preview(self) -> bytes | None:
        """The newest camera frame as JPEG, for the console's live preview only."""
        import cv2

        frame = self._parts["camera"].latest(after=-1, timeout=0.5)
        if frame is None:
            return None
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 70])
        return jpeg.tobytes() if ok else None

    def _console_health(self) -> dict:
        from edge.console.views import health_view

        states = self._states()
        trust, now = self.controller.trust, self.clock.now()
        issued = trust.bundles["trustlist"].issued if "trustlist" in trust.bundles else None
        return health_view({name: states[name] for name in ("camera", "thermal", "gate")},
                           connected=bool(self.sync and self.sync.connected),
                           backlog=self.sync.backlog[0] if self.sync else 0,
                           trust_stale=trust.stale(trust.effective_now(now)),
                           trust_age_h=None if issued is None else (now - issued) / 3600,
                           clock_synced=self.clock.synced())

    def _started(self, part):
        """Start a part with a supervised worker; stopping the agent stops it."""
        part.start()
        self._resources.callback(part.stop)
        self.supervisor.adopt(part.worker)
        return part

    def health(self) -> dict:
        """What the status message reports beyond the outbox: the drivers, the threads,
        the counters, the alarm and the bundles in force."""
        trust = self.controller.trust if self.controller else None
        return {**self._states(),
                "trustlist_version": trust and trust.trustlist_version,
                "revocations_version": trust and trust.revocations_version,
                "policy_version": trust and trust.policy_version,
                "roster_version": trust and trust.roster_version,
                "workers": self.supervisor.states(), "counters": self._counters()}

    def _states(self) -> dict:
        """The parts of the health whose change is news (edge/status.py WATCHED)."""
        parts = self._parts
        alarm = "worker_died" if self.failed else (self.store.alarm if self.store else None)
        return {"camera": _health(parts.get("camera")), "thermal": _health(parts.get("sensor")),
                "gate": _health(parts.get("gate")),
                "reader": _health(parts["reader"]) if "reader" in parts else None,
                "alarm": alarm}

    def _counters(self) -> dict:
        counters: dict = {"worker_errors": self.supervisor.errors()}
        for name in ("camera", "sensor", "scanner", "cards"):
            if name in self._parts:
                counters.update(self._parts[name].counters())
        for part in (self.controller, self.bundles):
            if part:
                counters.update(part.counters())
        counters.update(self.decisions.counters())
        if self.sync:
            counters.update(self.sync.counters())
        return counters

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        """Serve until `stop` is set or `duration` seconds have passed; AgentFailed as soon
        as a supervised thread has died."""
        deadline = math.inf if duration is None else time.monotonic() + duration
        said = status.watched(self._states())
        notifier = self.notifier
        notifier.ready(self._summary())
        while not stop.wait(min(TICK_S, max(0.0, deadline - time.monotonic()),
                                notifier.due_in(time.monotonic()))):
            if time.monotonic() >= deadline:
                return
            dead = self.supervisor.dead()
            if dead:
                self.failed = dead
                notifier.status(f"failed: {', '.join(dead)} died; stopping")
                logs.event("agent_failed", logging.CRITICAL, dead=dead,
                           note="stopping so that the service manager starts it afresh")
                raise AgentFailed(f"{', '.join(dead)} died")
            notifier.ping(time.monotonic())     # only reached while every thread lives
            if self.console is not None:
                self.console.set_health(self._console_health())
            now = status.watched(self._states())
            if now != said:
                said = now
                self.sync.notify()
                notifier.status(self._summary())

    def _summary(self) -> str:
        """The STATUS= line `systemctl status` shows."""
        states = self._states()
        parts = ", ".join(f"{name} {states[name]}" for name in ("camera", "thermal", "gate"))
        alarm = f"; alarm {states['alarm']}" if states["alarm"] else ""
        return f"deciding; {parts}{alarm}"


def _health(part) -> str:
    return "absent" if part is None else part.health


def _tls(cfg: Config) -> dict | None:
    files = {key: cfg.mqtt.values[key] for key in ("ca", "cert", "key") if cfg.mqtt.values[key]}
    return files or None
