"""Drivers chosen by URL, the way pyserial's serial_for_url chooses a port handler.

    camera  = "v4l2:///dev/video0?width=1280&height=720&fps=30" | "picamera2://0"
              | "file:///clips/gate.mp4" | "sim://" | "sim://scenario.toml"
    thermal = "serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto" | "sim://?profile=normal"
              (also pyserial's "socket://HOST:PORT", "rfc2217://HOST:PORT", "spy:///dev/...")
    gate    = "gpio://17?active_high=1&pulse=1.5" | "sim://"
    reader  = "serial:///dev/ttyUSB0?protocol=pn532" | "hid:///dev/input/by-id/NAME?format=dec10"
              | "sim://" (and socket://, rfc2217://, spy:// as for the sensor)

Each scheme is served by one module, imported only when the scheme is asked for. The
module declares the options each of its schemes takes (`URL_OPTIONS`, a table of
drivers.urls.Option) and opens the driver from a checked URL (`from_url`). A real
driver never imports the simulation: only this registry reaches it, for `sim://`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from drivers.base import Camera, CardReader, Gate, ThermalSensor
from drivers.urls import DriverUrl, parse_url, url_problems

_OPENCV, _SERIAL = "drivers.camera_opencv", "drivers.thermal.serial_url"
_PN532 = "drivers.reader.pn532_url"
MODULES: dict[str, dict[str, str]] = {
    "camera": {"v4l2": _OPENCV, "picamera2": "drivers.camera_picamera2", "file": _OPENCV,
               "sim": "drivers.sim.camera"},
    "thermal": {"serial": _SERIAL, "socket": _SERIAL, "rfc2217": _SERIAL, "spy": _SERIAL,
                "sim": "drivers.sim.thermal_sensor"},
    "gate": {"gpio": "drivers.gate", "sim": "drivers.sim.gate"},
    "reader": {"serial": _PN532, "socket": _PN532, "rfc2217": _PN532, "spy": _PN532,
               "hid": "drivers.reader.hid", "sim": "drivers.sim.reader"},
}


def _schemes(kind: str) -> dict:
    """{scheme: option table} for one kind of driver."""
    return {scheme: importlib.import_module(module).URL_OPTIONS[scheme]
            for scheme, module in MODULES[kind].items()}


def parse(kind: str, url: str) -> DriverUrl:
    """`url` for a driver of `kind`, its options checked; DriverError naming each problem."""
    return parse_url(url, kind, _schemes(kind))


def problems(kind: str, url: str) -> list[str]:
    """What is wrong with `url` for a driver of `kind`, without opening anything."""
    return url_problems(url, _schemes(kind))


def device_path(kind: str, url: str) -> Path | None:
    """The device node a URL names (/dev/video0, /dev/ttyUSB0), for a presence check."""
    spec = parse(kind, url)
    if spec.scheme in ("v4l2", "serial", "spy") and spec.target.startswith("/dev/"):
        return Path(spec.target)
    return None


def _open(kind: str, url: str, **context):
    spec = parse(kind, url)
    return importlib.import_module(MODULES[kind][spec.scheme]).from_url(spec, **context)


def open_camera(url: str, *, base_dir: Path, clock, scene=None) -> Camera:
    return _open("camera", url, base_dir=base_dir, clock=clock, scene=scene)


def open_thermal(url: str, *, clock, scene=None) -> ThermalSensor:
    return _open("thermal", url, clock=clock, scene=scene)


def open_gate(url: str, *, clock) -> Gate:
    return _open("gate", url, clock=clock)


def open_reader(url: str, *, clock, scene=None) -> CardReader:
    return _open("reader", url, clock=clock, scene=scene)
