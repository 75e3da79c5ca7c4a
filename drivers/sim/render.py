"""Camera-like frames of a phone showing a QR code at the gate, for the simulator and tests.

A frame is a gate scene (wall, door, turnstile posts) with, optionally, a phone held up
to the camera: its screen shows the code, tilted in perspective, with a glare spot, lens
blur and sensor noise. Everything random comes from a numpy Generator the caller seeds,
so a frame is reproducible. The QR raster and the background are the costly parts and
are made once; `Renderer.frame` only warps, blurs and adds noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SIZES = {"640x480": (640, 480), "1280x720": (1280, 720)}
_SCREEN = 238           # lit phone screen, a little below full white
_INK = 28               # dark modules as a screen shows them
_BEZEL = 22
_GRAIN_SLACK = 64    # pixels the noise window can shift by


@dataclass(frozen=True)
class Look:
    """How hard the frame is to read; the defaults are a phone held fairly still."""

    tilt: float = 0.18      # perspective: up to this fraction of foreshortening per axis
    turn_deg: float = 12.0  # in-plane rotation, up to +/- this
    blur: float = 1.0       # Gaussian sigma in pixels (focus and motion)
    glare: float = 0.5      # 0..1, strength of the specular spot on the screen
    noise: float = 4.0      # sensor noise sigma in grey levels
    fill: float = 0.55      # code side as a fraction of the frame height


DEFAULT_LOOK = Look()


@dataclass(frozen=True)
class Pose:
    """Where the phone's screen corners land in the frame (TL, TR, BR, BL)."""

    corners: tuple[tuple[float, float], ...]


def qr_raster(text: str, module_px: int = 4) -> Any:
    """The code as a grayscale screen image: dark modules on a lit screen, quiet zone kept."""
    return _qr_raster(text, module_px).copy()


@lru_cache(maxsize=8)
def _qr_raster(text: str, module_px: int) -> Any:
    import numpy as np
    import segno

    modules = np.array(segno.make_qr(text, error="m").matrix, dtype=bool)
    modules = np.pad(modules, 4)  # the quiet zone the standard asks for
    screen = np.where(modules, _INK, _SCREEN).astype(np.uint8)
    return np.kron(screen, np.ones((module_px, module_px), dtype=np.uint8))


def phone_sprite(text: str) -> Any:
    """The phone as seen from the front: the code on its screen inside a dark bezel."""
    import cv2

    screen = qr_raster(text)
    side = screen.shape[0]
    pad = side // 10
    phone = cv2.copyMakeBorder(screen, pad, pad * 3, pad, pad, cv2.BORDER_CONSTANT,
                               value=_SCREEN)
    phone = cv2.copyMakeBorder(phone, pad // 2, pad // 2, pad // 2, pad // 2,
                               cv2.BORDER_CONSTANT, value=_BEZEL)
    return cv2.cvtColor(phone, cv2.COLOR_GRAY2BGR)


def gate_scene(size: tuple[int, int], seed: int = 0) -> Any:
    """An empty gate: a lit wall, a door, turnstile posts, a notice board; no code."""
    return _gate_scene(size, seed).copy()


@lru_cache(maxsize=4)
def _gate_scene(size: tuple[int, int], seed: int) -> Any:
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(150, 95, height, dtype=np.float32)[:, None]
    wall = np.repeat(ramp, width, axis=1)
    scene = cv2.merge([wall * 0.95, wall, wall * 1.05]).clip(0, 255).astype(np.uint8)
    cv2.rectangle(scene, (int(width * 0.6), int(height * 0.15)), (int(width * 0.9), height),
                  (70, 85, 100), -1)                                              # door
    for x in (0.12, 0.3):
        cv2.rectangle(scene, (int(width * x), int(height * 0.55)),
                      (int(width * (x + 0.04)), height), (160, 160, 165), -1)     # posts
    board = (int(width * 0.08), int(height * 0.08), int(width * 0.42), int(height * 0.4))
    cv2.rectangle(scene, board[:2], board[2:], (225, 225, 220), -1)
    for line in range(6):                                         # text-like strokes
        y = board[1] + 12 + line * (board[3] - board[1] - 20) // 6
        length = int(rng.uniform(0.4, 0.95) * (board[2] - board[0] - 20))
        cv2.line(scene, (board[0] + 10, y), (board[0] + 10 + length, y), (40, 40, 40), 2)
    return cv2.GaussianBlur(scene, (0, 0), 0.8)


def random_pose(size: tuple[int, int], sprite_shape: tuple[int, ...], look: Look,
                rng) -> Pose:
    """A phone held up in front of the camera, tilted and turned at random within `look`."""
    import numpy as np

    width, height = size
    sprite_h, sprite_w = sprite_shape[:2]
    scale = look.fill * height / (sprite_w * 0.8)  # the code is ~80 % of the phone's width
    half = np.array([sprite_w, sprite_h], dtype=np.float64) * scale / 2
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * half
    tilt_x, tilt_y = rng.uniform(-look.tilt, look.tilt, 2)
    corners[:, 0] *= 1 + tilt_y * np.sign(corners[:, 1])   # top edge narrower or wider
    corners[:, 1] *= 1 + tilt_x * np.sign(corners[:, 0])   # left edge taller or shorter
    angle = np.radians(rng.uniform(-look.turn_deg, look.turn_deg))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rotation.T
    reach = np.maximum(np.array([width, height]) / 2 - np.abs(corners).max(axis=0), 0)
    center = np.array([width, height]) / 2 + rng.uniform(-1, 1, 2) * reach * 0.8
    return Pose(tuple(map(tuple, corners + center)))


def jitter(pose: Pose, rng, pixels: float = 1.5) -> Pose:
    """The same pose moved by a hand's tremor."""
    import numpy as np

    corners = np.array(pose.corners) + rng.normal(0, pixels, (4, 2))
    return Pose(tuple(map(tuple, corners)))


def compose(background: Any, sprite: Any, pose: Pose, look: Look, rng,
            grain: Any | None = None) -> Any:
    """Place the phone at `pose` on a copy of `background`, then glare, blur and noise."""
    import cv2
    import numpy as np

    frame = background.copy()
    sprite_h, sprite_w = sprite.shape[:2]
    source = np.float32([[0, 0], [sprite_w, 0], [sprite_w, sprite_h], [0, sprite_h]])
    warp = cv2.getPerspectiveTransform(source, np.float32(pose.corners))
    cv2.warpPerspective(sprite, warp, (frame.shape[1], frame.shape[0]), dst=frame,
                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    if look.glare > 0:
        _add_glare(frame, pose, look.glare, rng)
    return _finish(frame, look, rng, grain)


def empty_frame(background: Any, look: Look, rng, grain: Any | None = None) -> Any:
    """The gate with nobody showing a code: only blur and noise differ between frames."""
    return _finish(background.copy(), look, rng, grain)


def _add_glare(frame: Any, pose: Pose, strength: float, rng) -> None:
    """A soft bright ellipse on the screen, drawn only within its own box (full-frame
    filtering would cost more than everything else together)."""
    import cv2
    import numpy as np

    corners = np.array(pose.corners)
    span = corners.max(axis=0) - corners.min(axis=0)
    center = corners.mean(axis=0) + rng.uniform(-0.35, 0.35, 2) * span
    axes = (max(2, int(span[0] * rng.uniform(0.08, 0.18))),
            max(2, int(span[1] * rng.uniform(0.04, 0.1))))
    sigma = max(2.0, axes[0] / 2)
    reach = int(axes[0] + 3 * sigma)
    height, width = frame.shape[:2]
    x0, y0 = (max(0, int(c) - reach) for c in center)
    x1, y1 = min(width, int(center[0]) + reach), min(height, int(center[1]) + reach)
    if x1 <= x0 or y1 <= y0:
        return
    # drawn and blurred at quarter resolution, then enlarged: a soft spot loses nothing
    spot = np.zeros(((y1 - y0 + 3) // 4, (x1 - x0 + 3) // 4), dtype=np.float32)
    cv2.ellipse(spot, ((int(center[0]) - x0) // 4, (int(center[1]) - y0) // 4),
                (max(1, axes[0] // 4), max(1, axes[1] // 4)),
                float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    spot = cv2.GaussianBlur(spot, (0, 0), sigma / 4)
    lift = cv2.resize(spot, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    lift *= strength * 110.0
    region = frame[y0:y1, x0:x1]
    region[:] = np.clip(region + lift[:, :, None], 0, 255).astype(np.uint8)


def _finish(frame: Any, look: Look, rng, grain: Any | None = None) -> Any:
    """Lens blur, then sensor noise: a window of the precomputed `grain` at a random offset
    (drawing fresh Gaussian noise for every pixel of every frame costs more than the rest
    of the rendering)."""
    import cv2

    if look.blur > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), look.blur)
    if grain is not None:
        height, width = frame.shape[:2]
        dy, dx = (int(v) for v in rng.integers(0, _GRAIN_SLACK, 2))
        frame = cv2.add(frame, grain[dy:dy + height, dx:dx + width], dtype=cv2.CV_8U)
    return frame


def sensor_grain(size: tuple[int, int], sigma: float, seed: int = 0) -> Any | None:
    """Noise a little larger than a frame (int16, per channel), to be windowed per frame."""
    import numpy as np

    if sigma <= 0:
        return None
    width, height = size
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((height + _GRAIN_SLACK, width + _GRAIN_SLACK, 3),
                                dtype=np.float32)
    return np.rint(noise * sigma).astype(np.int16)


class Renderer:
    """Frames of one size; the phone sprite for the latest texts is kept between frames."""

    def __init__(self, size: tuple[int, int] = (640, 480), *, look: Look = DEFAULT_LOOK,
                 scene_seed: int = 0) -> None:
        self.size = size
        self.look = look
        self.background = gate_scene(size, scene_seed)
        self.grain = sensor_grain(size, look.noise, scene_seed)

    def sprite(self, text: str) -> Any:
        return _sprite(text)

    def frame(self, text: str | None, rng, pose: Pose | None = None) -> Any:
        """A frame showing `text` on a phone (at `pose`, or a random one), or an empty gate."""
        if text is None:
            return empty_frame(self.background, self.look, rng, self.grain)
        sprite = self.sprite(text)
        pose = pose or random_pose(self.size, sprite.shape, self.look, rng)
        return compose(self.background, sprite, pose, self.look, rng, self.grain)


@lru_cache(maxsize=8)
def _sprite(text: str) -> Any:
    return phone_sprite(text)
