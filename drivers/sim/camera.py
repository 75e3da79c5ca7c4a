"""The simulated camera: frames of the scripted scene, rendered live at a steady rate.

Each presentation gets its own phone pose (from a generator seeded with its number, so a
run is reproducible); within it, frames differ by hand tremor, glare and sensor noise,
so the decoder works on new pixels every frame, as it would with a real camera.

`sim://?fail_every=N` makes every Nth read fail as a flaky USB camera's does, so the
capture thread's reopen-with-backoff path runs in tests and demos.
"""

from __future__ import annotations

import time

from drivers.frames import CaptureCamera
from drivers.sim.render import DEFAULT_LOOK, Look, Pose, Renderer, jitter, random_pose
from drivers.urls import DriverUrl, Option, number, whole

URL_OPTIONS = {"sim": {"fps": Option(number(positive=True), 15.0),
                       "fail_every": Option(whole(0), 0)}}


class SimCamera(CaptureCamera):
    thread_name = "sim-camera"

    def __init__(self, scene, *, clock, fps: float = 15.0, size: tuple[int, int] = (640, 480),
                 look: Look = DEFAULT_LOOK, seed: int = 0, fail_every: int = 0) -> None:
        import numpy as np

        if fps <= 0:
            raise ValueError("fps must be positive")
        super().__init__(clock)
        self.scene = scene
        self.fps = fps
        self.fail_every = fail_every
        self.renderer = Renderer(size, look=look, scene_seed=seed)
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._poses: dict[int, Pose] = {}
        self._reads = 0
        self._deadline = time.monotonic()   # pacing is real time even when the clock is not
        self._start_capture()

    def describe(self) -> str:
        width, height = self.renderer.size
        return f"sim {width}x{height} @ {self.fps:g} fps"

    def _read(self):
        self._reads += 1
        if self.fail_every and self._reads % self.fail_every == 0:
            raise OSError(f"simulated read failure (read {self._reads})")
        t_mono = self.clock.monotonic()
        return self._render(t_mono), t_mono

    def _wait_next(self) -> None:
        self._deadline = max(self._deadline + 1.0 / self.fps, time.monotonic())
        self._worker.stopping.wait(self._deadline - time.monotonic())

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


def from_url(spec: DriverUrl, *, clock, scene=None, **_) -> SimCamera:
    """`sim://` (the demo people) or `sim://scenario.toml`: the scene is built by the agent,
    which shares it with the simulated thermal sensor."""
    return SimCamera(scene, clock=clock, fps=spec.options["fps"],
                     fail_every=spec.options["fail_every"])
