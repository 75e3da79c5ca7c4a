"""Reader URLs for a PN532 on a serial line: `serial:///dev/ttyUSB0?protocol=pn532`, and
pyserial's `socket://HOST:PORT`, `rfc2217://HOST:PORT` and `spy:///dev/ttyUSB0` (a
serial-to-network bridge, or every byte traced), whose own options go on to pyserial.
"""

from __future__ import annotations

from drivers.base import DriverError
from drivers.reader.pn532 import Pn532Reader
from drivers.urls import DriverUrl, Option, choice, pyserial_port, pyserial_schemes

PROTOCOL = "pn532"
URL_OPTIONS = pyserial_schemes({"protocol": Option(choice(PROTOCOL), PROTOCOL)})


def from_url(spec: DriverUrl, *, clock, **_) -> Pn532Reader:
    if not spec.target:
        raise DriverError(f"reader url: no device path, e.g. {spec.scheme}:///dev/ttyUSB0")
    return Pn532Reader(pyserial_port(spec, URL_OPTIONS), clock=clock)

