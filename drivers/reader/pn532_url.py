"""Reader URLs for a PN532 on a serial line: `serial:///dev/ttyUSB0?protocol=pn532`, and
pyserial's `socket://HOST:PORT`, `rfc2217://HOST:PORT` and `spy:///dev/ttyUSB0` (a
serial-to-network bridge, or every byte traced), whose own options go on to pyserial.
"""

from __future__ import annotations

from drivers.base import DriverError
from drivers.reader.pn532 import Pn532Reader
from drivers.urls import DriverUrl, Option, choice

PROTOCOL = "pn532"
_OURS = {"protocol": Option(choice(PROTOCOL), PROTOCOL)}
_PYSERIAL = Option(str, passthrough=True)
URL_OPTIONS = {
    "serial": _OURS,
    "spy": {**_OURS, **dict.fromkeys(("file", "color", "raw", "all"), _PYSERIAL)},
    "socket": {**_OURS, "logging": _PYSERIAL},
    "rfc2217": {**_OURS, **dict.fromkeys(("logging", "ign_set_control", "poll_modem",
                                          "timeout"), _PYSERIAL)},
}


def from_url(spec: DriverUrl, *, clock, **_) -> Pn532Reader:
    if not spec.target:
        raise DriverError(f"reader url: no device path, e.g. {spec.scheme}:///dev/ttyUSB0")
    return Pn532Reader(_port(spec), clock=clock)


def _port(spec: DriverUrl) -> str:
    """What pyserial opens (the same rule as the thermal sensor's URLs)."""
    if spec.scheme == "serial":
        return spec.target
    kept = [f"{name}={value}" if value else name for name, value in spec.given.items()
            if URL_OPTIONS[spec.scheme][name].passthrough]
    return f"{spec.scheme}://{spec.target}" + ("?" + "&".join(kept) if kept else "")
