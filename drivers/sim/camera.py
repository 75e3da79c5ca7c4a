"""The simulated camera: frames of the scripted scene, rendered live at a steady rate.

Each presentation gets its own phone pose (from a generator seeded with its number, so a
run is reproducible); within it, frames differ by hand tremor, glare and sensor noise,
so the decoder works on new pixels every frame, as it would with a real camera.
"""

from __future__ import annotations

import logging
import time

from drivers.frames import CaptureCamera
from drivers.sim.render import DEFAULT_LOOK, Look, Pose, Renderer, jitter, random_pose

log = logging.getLogger(__name__)


class SimCamera(CaptureCamera):
    thread_name = "sim-camera"

    def __init__(self, scene, *, clock, fps: float = 15.0, size: tuple[int, int] = (640, 480),
                 look: Look = DEFAULT_LOOK, seed: int = 0) -> None:
        import numpy as np

        if fps <= 0:
            raise ValueError("fps must be positive")
        self.scene = scene
        self.clock = clock
        self.fps = fps
        self.renderer = Renderer(size, look=look, scene_seed=seed)
        self.error: Exception | None = None   # what stopped the render thread, if anything
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._poses: dict[int, Pose] = {}
        super().__init__()
        self._start_capture()

    def describe(self) -> str:
        width, height = self.renderer.size
        return f"sim {width}x{height} @ {self.fps:g} fps"

    def _capture(self) -> None:
        interval = 1.0 / self.fps
        deadline = time.monotonic()  # pacing is real time even when the clock is simulated
        try:
            while not self._stop.is_set():
                t_mono = self.clock.monotonic()
                self._buffer.put(self._render(t_mono), t_mono)
                deadline = max(deadline + interval, time.monotonic())
                self._stop.wait(deadline - time.monotonic())
        except Exception as exc:  # kept in .error and logged; the scanner then sees no frames
            self.error = exc
            log.exception("event=camera_failed camera=sim")
        finally:
            self._buffer.close()

    def _render(self, t_mono: float):
        presence = self.scene.at(t_mono) if self.scene is not None else None
        if presence is None or presence.text is None:
            return self.renderer.frame(None, self._rng)
        pose = jitter(self._pose_for(presence.number, presence.text), self._rng)
        return self.renderer.frame(presence.text, self._rng, pose)

    def _pose_for(self, number: int, text: str) -> Pose:
        import numpy as np

        if number not in self._poses:
            self._poses = {n: p for n, p in self._poses.items() if n > number - 4}
            rng = np.random.default_rng((self._seed, number))
            sprite = self.renderer.sprite(text)
            self._poses[number] = random_pose(self.renderer.size, sprite.shape,
                                              self.renderer.look, rng)
        return self._poses[number]
