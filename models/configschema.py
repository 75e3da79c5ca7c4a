"""A small, strict schema for TOML configuration: every error named, unknown keys refused.

Validation collects all errors at once (key, bad value, what is allowed), so a technician
fixes a file in one pass instead of one error per restart.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Check = Callable[[Any], str | None]   # returns "allowed: ..." text when the value is bad


@dataclass(frozen=True)
class Key:
    kind: str                   # "str" | "int" | "float" | "bool" | "path" | "paths" | "strs"
    default: Any = None
    required: bool = False
    check: Check | None = None


_KIND_TEXT = {
    "str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
    "path": "a file path (string)", "paths": "a list of file paths",
    "strs": "a list of strings",
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("str", "path"):
        return isinstance(value, str) and value != ""
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("paths", "strs"):
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    raise ValueError(f"unknown schema kind {kind}")


def _resolve(kind: str, value: Any, base_dir: Path) -> Any:
    if kind == "path":
        return (base_dir / value).resolve()
    if kind == "paths":
        return [(base_dir / v).resolve() for v in value]
    if kind == "float":
        return float(value)
    return value


def _one_key(table: str, name: str, key: Key, raw: dict, base_dir: Path,
             errors: list[str]) -> Any:
    if name not in raw:
        if key.required:
            errors.append(f"[{table}] {name}: missing; expected {_KIND_TEXT[key.kind]}")
        return key.default
    value = raw[name]
    if not _type_ok(key.kind, value):
        errors.append(f"[{table}] {name} = {value!r}: expected {_KIND_TEXT[key.kind]}")
        return key.default
    problem = key.check(value) if key.check else None
    if problem:
        errors.append(f"[{table}] {name} = {value!r}: {problem}")
        return key.default
    return _resolve(key.kind, value, base_dir)


def validate(data: dict[str, Any], schema: dict[str, dict[str, Key]],
             base_dir: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Check `data` against `schema`; returns the resolved values and every error found."""
    errors: list[str] = []
    for table in sorted(set(data) - set(schema)):
        errors.append(f"[{table}]: unknown table; allowed: {', '.join(schema)}")
    values: dict[str, dict[str, Any]] = {}
    for table, keys in schema.items():
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            errors.append(f"[{table}]: expected a table, got {raw!r}")
            raw = {}
        for name in sorted(set(raw) - set(keys)):
            errors.append(f"[{table}] {name}: unknown key; allowed: {', '.join(keys)}")
        values[table] = {name: _one_key(table, name, key, raw, base_dir, errors)
                         for name, key in keys.items()}
    return values, errors


def validate_toml(text: str, schema: dict[str, dict[str, Key]],
                  base_dir: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """`validate` for TOML text; text that is not TOML is one error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"not valid TOML: {exc}"]
    return validate(data, schema, base_dir)


def in_range(low: float, high: float) -> Check:
    return lambda value: None if low <= value <= high else f"allowed: {low} to {high}"


def mqtt_url(value: str) -> str | None:
    """A broker URL: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (user:password@ allowed)."""
    parts = urlsplit(value)
    try:
        ok = parts.scheme in ("mqtt", "mqtts") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        ok = False
    return None if ok else "allowed: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"


def each(check: Check) -> Check:
    """`check` applied to every element of a list; the first bad one is named."""
    def check_all(values: list) -> str | None:
        for value in values:
            if problem := check(value):
                return f"{value!r}: {problem}"
        return None
    return check_all


def failover_problem(url: str, failover: list[str]) -> str | None:
    """`[mqtt] failover` must speak as `url` does: the TLS files apply to every broker,
    so a list mixing mqtt:// and mqtts:// cannot all be reached with one client."""
    scheme = urlsplit(url).scheme
    mixed = [other for other in failover if urlsplit(other).scheme != scheme]
    if mixed:
        return (f"[mqtt] failover = {mixed!r}: every broker must use {scheme}:// "
                "as [mqtt] url does")
    return None


def listen_address(value: str) -> str | None:
    """None for a HOST:PORT to serve on, else what is allowed."""
    match = re.fullmatch(r"(.+):(\d{1,5})", value)
    ok = bool(match) and 0 < int(match.group(2)) < 65536
    return None if ok else "allowed: HOST:PORT, e.g. 127.0.0.1:8080"
