"""Thermal sensor URLs: `serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto`, and
pyserial's `socket://HOST:PORT`, `rfc2217://HOST:PORT` and `spy:///dev/ttyUSB0`.

Our options (`protocol`, `baud`) are taken out of the URL; pyserial's own options of its
schemes are named in drivers/urls.py (`pyserial_schemes`), so a typo is refused before
pyserial sees it, and left in the URL pyserial is given.
"""

from __future__ import annotations

from drivers.base import DriverError
from drivers.thermal import gy90614
from drivers.thermal.protocols import PROTOCOLS
from drivers.thermal.serial_sensor import SerialThermal
from drivers.urls import DriverUrl, Option, choice, pyserial_port, pyserial_schemes


def parse_baud(text: str) -> int | None:
    """"auto" -> None (the protocol's usual rates), else a positive integer tried first."""
    if text == "auto":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError("allowed: auto or a rate such as 9600, 115200")


URL_OPTIONS = pyserial_schemes({"protocol": Option(choice(*PROTOCOLS), gy90614.PROTOCOL),
                                "baud": Option(parse_baud, None)})


def port_url(spec: DriverUrl) -> str:
    """What pyserial opens for a sensor URL."""
    return pyserial_port(spec, URL_OPTIONS)


def from_url(spec: DriverUrl, *, clock, **_) -> SerialThermal:
    """For `serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto` and pyserial's URLs."""
    if not spec.target:
        raise DriverError(f"thermal url: no device path, e.g. {spec.scheme}:///dev/ttyUSB0")
    return SerialThermal(port_url(spec), protocol=spec.options["protocol"],
                         baud=spec.options["baud"], clock=clock)
