"""The agent: builds the drivers and workers a config describes, runs them, stops them.

Start order is trust, store, sync, gate, controller, thermal, camera, scanner; stop is the
reverse, so no worker outlives what it feeds, and the controller drains its queue before
the store closes. One stop event ends everything.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from drivers import registry
from drivers.clock import SystemClock
from drivers.sim_scene import Scene
from edge import logs
from edge.config import Config
from edge.controller import Controller, Outcome
from edge.scanner import Scanner
from edge.store import Store
from edge.sync import Sync
from edge.thermal import ThermalMonitor
from edge.trust import load_trust


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
        trust = load_trust(cfg.trust.roots, cfg.trust.trustlist, cfg.trust.revocations,
                           cfg.trust.policy)
        self.store = push(Store(cfg.store.path))
        # Started before the controller so it stops after it: the last records committed
        # while stopping are still offered to the broker, then `online: false` is sent.
        self.sync = _started(self._resources, Sync(
            cfg.mqtt.url, device=cfg.device.id, store_path=cfg.store.path, clock=clock,
            tls=_tls(cfg)))
        scene = build_scene(cfg, clock)
        gate = push(registry.open_gate(cfg.gate.url, clock=clock))
        self.controller = _started(self._resources, Controller(
            store=self.store, trust=trust, gate=gate, clock=clock,
            gate_name=cfg.device.gate, on_outcome=self.on_outcome, on_commit=self.sync.notify,
            thermal=self._thermal(scene)))
        camera = push(registry.open_camera(cfg.camera.url, base_dir=cfg.base_dir,
                                           clock=clock, scene=scene))
        from drivers.qr import make_decoder
        _started(self._resources, Scanner(camera, make_decoder("auto"),
                                          self.controller.submit, clock=clock))
        logs.event("started", device=cfg.device.id, gate=cfg.device.gate,
                   camera=camera.describe(), thermal=cfg.thermal.url, store=self.store.path,
                   store_id=self.store.store_id, records=self.store.count())

    def _thermal(self, scene: Scene | None) -> ThermalMonitor:
        cfg = self.config
        sensor = self._resources.enter_context(
            registry.open_thermal(cfg.thermal.url, clock=self.clock, scene=scene))
        return _started(self._resources, ThermalMonitor(sensor, clock=self.clock,
                                                        offset_c=cfg.thermal.offset_c))

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
