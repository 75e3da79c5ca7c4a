"""Thermal sensor URLs: `serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto`, and
pyserial's `socket://HOST:PORT`, `rfc2217://HOST:PORT` and `spy:///dev/ttyUSB0`.

Our options (`protocol`, `baud`) are taken out of the URL; pyserial's own options of its
schemes are named here too, so a typo is refused before pyserial sees it, and left in the
URL pyserial is given.
"""

from __future__ import annotations

from drivers.base import DriverError
from drivers.thermal import gy90614
from drivers.thermal.protocols import PROTOCOLS
from drivers.thermal.serial_sensor import SerialThermal
from drivers.urls import DriverUrl, Option, choice


def parse_baud(text: str) -> int | None:
    """"auto" -> None (the protocol's usual rates), else a positive integer tried first."""
    if text == "auto":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError("allowed: auto or a rate such as 9600, 115200")


_OURS = {"protocol": Option(choice(*PROTOCOLS), gy90614.PROTOCOL),
         "baud": Option(parse_baud, None)}
_PYSERIAL = Option(str, passthrough=True)
URL_OPTIONS = {
    "serial": _OURS,
    "spy": {**_OURS, **dict.fromkeys(("file", "color", "raw", "all"), _PYSERIAL)},
    "socket": {**_OURS, "logging": _PYSERIAL},
    "rfc2217": {**_OURS, **dict.fromkeys(("logging", "ign_set_control", "poll_modem",
                                          "timeout"), _PYSERIAL)},
}


def port_url(spec: DriverUrl) -> str:
    """What pyserial opens: the device path of `serial://`, else the URL with pyserial's
    options only."""
    if spec.scheme == "serial":
        return spec.target
    table = URL_OPTIONS[spec.scheme]
    kept = [f"{name}={value}" if value else name for name, value in spec.given.items()
            if table[name].passthrough]
    return f"{spec.scheme}://{spec.target}" + ("?" + "&".join(kept) if kept else "")


def from_url(spec: DriverUrl, *, clock, **_) -> SerialThermal:
    """For `serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto` and pyserial's URLs."""
    if not spec.target:
        raise DriverError(f"thermal url: no device path, e.g. {spec.scheme}:///dev/ttyUSB0")
    return SerialThermal(port_url(spec), protocol=spec.options["protocol"],
                         baud=spec.options["baud"], clock=clock)
