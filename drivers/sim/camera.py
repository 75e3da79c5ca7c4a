"""The simulated camera: frames of the scripted scene, rendered live at a steady rate.

Each presentation gets its own phone pose (from a generator seeded with its number, so a
run is reproducible); within it, frames differ by hand tremor, glare and sensor noise,
so the decoder works on new pixels every frame, as it would with a real camera.

`sim://?fail_every=N` makes every Nth read fail as a flaky USB camera's does, so the
capture thread's reopen-with-backoff path runs in tests and demos.

`sim://?width=1280&height=720&fps=30` asks for a mode the way a real camera's URL does. The
simulated sensor has modes up to SENSOR_SIZE at SENSOR_FPS: a larger ask gets the largest
it has and says so (describe(), a `camera_mode_differs` event), as a real camera must.
"""

from __future__ import annotations

import time

from drivers.frames import MODE_OPTIONS, CaptureCamera, CaptureMode
from drivers.sim.render import DEFAULT_LOOK, Look, Pose, Renderer, jitter, random_pose
from drivers.urls import DriverUrl, Option, whole

DEFAULT_SIZE, DEFAULT_FPS = (640, 480), 15.0
SENSOR_SIZE, SENSOR_FPS = (1920, 1080), 60.0    # the largest mode the simulated sensor has
# fps and fail_every first: the order "allowed: ..." names them in, as it did before
URL_OPTIONS = {"sim": {"fps": MODE_OPTIONS["fps"], "fail_every": Option(whole(0), 0),
                       "width": MODE_OPTIONS["width"], "height": MODE_OPTIONS["height"]}}


def sensor_mode(asked: CaptureMode) -> CaptureMode:
    """The mode the simulated sensor runs for `asked`: one side alone keeps 4:3, and
    nothing goes past the sensor's largest mode."""
    width, height = asked.width, asked.height
    if width is None and height is None:
        width, height = DEFAULT_SIZE
    width = width or round(height * 4 / 3)
    height = height or round(width * 3 / 4)
    return CaptureMode(min(width, SENSOR_SIZE[0]), min(height, SENSOR_SIZE[1]),
                       min(asked.fps or DEFAULT_FPS, SENSOR_FPS))


class SimCamera(CaptureCamera):
    thread_name = "sim-camera"

    def __init__(self, scene, *, clock, fps: float = DEFAULT_FPS,
                 size: tuple[int, int] = DEFAULT_SIZE, look: Look = DEFAULT_LOOK, seed: int = 0,
                 fail_every: int = 0, asked: CaptureMode | None = None) -> None:
        """`asked`: a mode as a URL asks for it, which the sensor picks its mode for
        (overriding `fps` and `size`)."""
        import numpy as np

        super().__init__(clock)
        if asked is not None:
            got = sensor_mode(asked)
            fps, size = got.fps, got.size
            self._settle_mode(asked, got, "sim")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.mode = CaptureMode(size[0], size[1], fps)
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
        return f"sim {self.mode_text()}"

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
    return SimCamera(scene, clock=clock, fail_every=spec.options["fail_every"],
                     asked=CaptureMode.from_options(spec.options))
