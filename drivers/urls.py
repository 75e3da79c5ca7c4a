"""Driver URLs, the way pyserial's `serial_for_url` names a port: scheme, target, options.

    serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto
    sim://?profile=fever

Each driver declares the options its scheme takes as a table of `Option`s (name ->
parser and default); `parse_url` checks a URL against that table and names every
problem at once: an unknown scheme, unknown options (with the allowed ones), bad values
(with what is allowed). `checkpoint config check` and `checkpoint run` call the same
check, so a URL that passes one passes the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from drivers.base import DriverError


@dataclass(frozen=True)
class Option:
    parse: Callable[[str], Any]     # text -> value; ValueError("allowed: ...") when bad
    default: Any = None
    passthrough: bool = False       # left in the URL for the library that reads it (pyserial)


@dataclass(frozen=True)
class DriverUrl:
    scheme: str
    target: str                     # host + path, percent-decoded ("" for "sim://")
    options: dict[str, Any]         # every declared option, parsed, defaults filled in
    given: dict[str, str] = field(default_factory=dict)     # the options as written

    def path(self, base_dir: Path) -> Path:
        """The target as a file path, relative ones taken from `base_dir`."""
        target = Path(self.target)
        return target if target.is_absolute() else base_dir / target


def parse_url(url: str, what: str, schemes: dict[str, dict[str, Option]]) -> DriverUrl:
    """`url` checked against the option tables of the allowed schemes; DriverError naming
    every problem."""
    spec, problems = _parse(url, schemes)
    if problems:
        raise DriverError(f"{what} url {url!r}: " + "; ".join(problems))
    return spec


def url_problems(url: str, schemes: dict[str, dict[str, Option]]) -> list[str]:
    """Every problem of `url`, for a config check; [] when it would be accepted."""
    return _parse(url, schemes)[1]


def _parse(url: str, schemes: dict[str, dict[str, Option]]) -> tuple[DriverUrl | None, list]:
    try:
        parts = urlsplit(url)
        given = dict(parse_qsl(parts.query, keep_blank_values=True))
    except ValueError as exc:
        return None, [f"not a URL: {exc}"]
    table = schemes.get(parts.scheme)
    if table is None:
        return None, [f"allowed: {', '.join(s + '://...' for s in schemes)}"]
    options, problems = _options(given, table)
    target = unquote(parts.netloc + parts.path)
    return DriverUrl(parts.scheme, target, options, given), problems


def parse_options(given: dict[str, str], table: dict[str, Option], what: str) -> dict[str, Any]:
    """Options given as text (a URL's query, a command's flags) checked against `table`."""
    options, problems = _options(given, table)
    if problems:
        raise DriverError(f"{what}: " + "; ".join(problems))
    return options


def _options(given: dict[str, str], table: dict[str, Option]) -> tuple[dict[str, Any], list]:
    problems = []
    unknown = sorted(set(given) - set(table))
    if unknown:
        problems.append(f"unknown option(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(table) or 'none'}")
    options = {}
    for name, option in table.items():
        if name not in given:
            options[name] = option.default
            continue
        try:
            options[name] = option.parse(given[name])
        except ValueError as exc:
            problems.append(f"{name}={given[name]!r}: {exc}")
    return options, problems


# -- option parsers: each raises ValueError("allowed: ...") -------------------------------

def number(low: float | None = None, high: float | None = None,
           positive: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = (value == value and (low is None or value >= low)
              and (high is None or value <= high) and (not positive or value > 0))
        if not ok:
            raise ValueError(_range_text("a number", low, high, positive))
        return value
    return parse


def whole(low: int = 0, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not (text.isdigit() and int(text) >= low and (high is None or int(text) <= high)):
            raise ValueError(_range_text("a whole number", low, high, False))
        return int(text)
    return parse


def flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("allowed: 0, 1")
    return text == "1"


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"allowed: {', '.join(allowed)}")
        return text
    return parse


def choices(*allowed: str) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated list, each item one of `allowed`."""
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(item for item in text.split(",") if item)
        bad = [item for item in items if item not in allowed]
        if bad:
            raise ValueError(f"{', '.join(bad)} not known; allowed: {', '.join(allowed)}")
        return items
    return parse


def _range_text(kind: str, low, high, positive: bool) -> str:
    if positive:
        return f"allowed: {kind} above 0"
    if low is not None and high is not None:
        return f"allowed: {kind} from {low:g} to {high:g}"
    if low is not None:
        return f"allowed: {kind} of at least {low:g}"
    return f"allowed: {kind}"


# pyserial's URL handlers and their own options, for drivers on a serial line: ours are
# taken out of the URL, pyserial's are checked by name (a typo is refused before pyserial
# sees it) and left in the URL pyserial is given.
_PYSERIAL = Option(str, passthrough=True)


def pyserial_schemes(ours: dict[str, Option]) -> dict[str, dict[str, Option]]:
    """The option table of `serial://` and pyserial's `spy://`, `socket://`, `rfc2217://`
    for a driver whose own options are `ours`."""
    return {
        "serial": ours,
        "spy": {**ours, **dict.fromkeys(("file", "color", "raw", "all"), _PYSERIAL)},
        "socket": {**ours, "logging": _PYSERIAL},
        "rfc2217": {**ours, **dict.fromkeys(("logging", "ign_set_control", "poll_modem",
                                             "timeout"), _PYSERIAL)},
    }


def pyserial_port(spec: DriverUrl, schemes: dict[str, dict[str, Option]]) -> str:
    """What pyserial opens: the device path of `serial://`, else the URL with pyserial's
    options only."""
    if spec.scheme == "serial":
        return spec.target
    table = schemes[spec.scheme]
    kept = [f"{name}={value}" if value else name for name, value in spec.given.items()
            if table[name].passthrough]
    return f"{spec.scheme}://{spec.target}" + ("?" + "&".join(kept) if kept else "")

