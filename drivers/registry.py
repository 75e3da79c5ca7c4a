"""Drivers chosen by URL, the way pyserial's serial_for_url chooses a port handler.

    camera  = "v4l2:///dev/video0" | "file:///clips/gate.mp4" | "sim://" | "sim://scenario.toml"
    thermal = "serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto" | "sim://?profile=normal"
    gate    = "gpio://17?active_high=1&pulse=1.5" | "sim://"

Driver modules are imported only when their scheme is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from drivers.base import Camera, DriverError, Gate, ThermalSensor

CAMERA_SCHEMES = ("v4l2", "file", "sim")
THERMAL_SCHEMES = ("serial", "sim")
GATE_SCHEMES = ("gpio", "sim")


@dataclass(frozen=True)
class DriverUrl:
    scheme: str
    target: str                 # host + path, percent-decoded ("" for "sim://")
    options: dict[str, str]

    def path(self, base_dir: Path) -> Path:
        """The target as a file path, relative ones taken from `base_dir`."""
        target = Path(self.target)
        return target if target.is_absolute() else base_dir / target


def parse_url(url: str, allowed: tuple[str, ...], what: str) -> DriverUrl:
    parts = urlsplit(url)
    if parts.scheme not in allowed:
        raise DriverError(f"{what} url {url!r}: scheme must be one of "
                          f"{', '.join(s + '://' for s in allowed)}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    return DriverUrl(parts.scheme, unquote(parts.netloc + parts.path), options)


def open_camera(url: str, *, base_dir: Path, clock, scene=None) -> Camera:
    spec = parse_url(url, CAMERA_SCHEMES, "camera")
    if spec.scheme == "sim":
        from drivers.sim.camera import SimCamera
        return SimCamera(scene, clock=clock, **_floats(spec.options, "camera", ("fps",)))
    from drivers.camera_opencv import OpenCvCamera
    source: str | int = spec.target if spec.scheme == "v4l2" else str(spec.path(base_dir))
    return OpenCvCamera(source, clock=clock, loop=spec.options.get("loop") == "1")


def open_thermal(url: str, *, clock, scene=None) -> ThermalSensor:
    spec = parse_url(url, THERMAL_SCHEMES, "thermal")
    if spec.scheme == "sim":
        from drivers.sim.thermal import open_simulated_sensor
        return open_simulated_sensor(spec.options, clock=clock, scene=scene)
    from drivers.thermal.serial_sensor import SerialThermal
    return SerialThermal.from_options(spec.target, spec.options, clock=clock)


def open_gate(url: str, *, clock) -> Gate:
    spec = parse_url(url, GATE_SCHEMES, "gate")
    if spec.scheme == "sim":
        from drivers.sim.gate import SimGate
        return SimGate(clock=clock, **_floats(spec.options, "gate", ("pulse",)))
    from drivers.gate import GpioGate
    return GpioGate.from_options(spec.target, spec.options, clock=clock)


def _floats(options: dict[str, str], what: str, allowed: tuple[str, ...]) -> dict[str, float]:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DriverError(f"{what} url: unknown option(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(allowed) or 'none'}")
    try:
        return {key: float(value) for key, value in options.items()}
    except ValueError:
        raise DriverError(f"{what} url: options {options} must be numbers") from None
