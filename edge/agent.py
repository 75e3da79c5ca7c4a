"""The agent: builds the drivers and workers a config describes, runs them, stops them.

Start order is trust, store, gate, thermal, sync, controller, camera, scanner; stop is the
reverse, so no worker outlives what it feeds, and the controller drains its queue before
the store closes. One stop event ends everything.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from drivers import registry
from drivers.clock import SystemClock
from drivers.sim.scene import Scene
from edge import logs
from edge.config import Config
from edge.controller import BundleUpdate, Controller, Outcome
from edge.scanner import Scanner
from edge.screening import ScreeningSettings
from edge.store import Store
from edge.sync import Sync
from edge.thermal import ThermalMonitor
from edge.trust import load_configured_trust


def build_scene(config: Config, clock) -> Scene | None:
    """The simulated people at the gate, when the camera is simulated."""
    spec = registry.parse_url(config.camera.url, registry.CAMERA_SCHEMES, "camera")
    if spec.scheme != "sim":
        return None
    if spec.target:
        return Scene.load(spec.path(config.base_dir), clock)
    return Scene.default(clock, key_path=config.base_dir / "demo" / "issuer-key.pem")


class Agent:
    def __init__(self, config: Config, *, clock=None,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.on_outcome = on_outcome
        self._resources = contextlib.ExitStack()
        self.store: Store | None = None
        self.controller: Controller | None = None
        self.sync: Sync | None = None

    def __enter__(self) -> Agent:
        try:
            self._open()
        except BaseException:
            self._resources.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._resources.close()
        logs.event("stopped", device=self.config.device.id)

    def _open(self) -> None:
        cfg, clock, push = self.config, self.clock, self._resources.enter_context
        trust = load_configured_trust(cfg.trust)
        self.store = push(Store(cfg.store.path, recover=True))
        scene = build_scene(cfg, clock)
        gate = push(registry.open_gate(cfg.gate.url, clock=clock))
        controller = Controller(
            store=self.store, trust=trust, gate=gate, clock=clock,
            gate_name=cfg.device.gate, on_outcome=self.on_outcome,
            on_commit=lambda: self.sync.notify(), thermal=self._thermal(scene))
        # Sync starts before the controller so it stops after it: the last records
        # committed while stopping are still offered, then `online: false` is sent. Bundles
        # arriving before the controller runs wait in its queue.
        self.sync = _started(self._resources, Sync(
            cfg.mqtt.url, device=cfg.device.id, store_path=cfg.store.path, clock=clock,
            tls=_tls(cfg), retention_days=cfg.store.retention_days, health=self._health,
            on_bundle=lambda payload: controller.submit(BundleUpdate(payload))))
        self.controller = _started(self._resources, controller)
        camera = push(registry.open_camera(cfg.camera.url, base_dir=cfg.base_dir,
                                           clock=clock, scene=scene))
        from drivers.qr import make_decoder
        _started(self._resources, Scanner(camera, make_decoder("auto"),
                                          self.controller.submit, clock=clock))
        logs.event("started", device=cfg.device.id, gate=cfg.device.gate,
                   camera=camera.describe(), thermal=cfg.thermal.url, store=self.store.path,
                   store_id=self.store.store_id, records=self.store.count())

    def _health(self) -> dict:
        """What the status message reports beyond the outbox: alarms, bundle versions."""
        trust = self.controller.trust if self.controller else None
        return {"alarm": self.store.alarm,
                "trustlist_version": trust and trust.trustlist_version,
                "revocations_version": trust and trust.revocations_version,
                "policy_version": trust and trust.policy_version}

    def _thermal(self, scene: Scene | None) -> ThermalMonitor:
        cfg = self.config
        sensor = self._resources.enter_context(
            registry.open_thermal(cfg.thermal.url, clock=self.clock, scene=scene))
        settings = ScreeningSettings(ambient_coeff=cfg.thermal.ambient_coeff,
                                     ambient_ref_c=cfg.thermal.ambient_ref_c)
        return _started(self._resources, ThermalMonitor(
            sensor, clock=self.clock, offset_c=cfg.thermal.offset_c, settings=settings))

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        """Serve until `stop` is set or `duration` seconds have passed."""
        stop.wait(duration)


def _started(resources: contextlib.ExitStack, worker):
    worker.start()
    resources.callback(worker.stop)
    return worker


def _tls(cfg: Config) -> dict | None:
    files = {key: cfg.mqtt.values[key] for key in ("ca", "cert", "key") if cfg.mqtt.values[key]}
    return files or None
