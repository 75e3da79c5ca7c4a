"""The district receiver's TOML configuration (`config/district.toml`, PROTOCOL.md section 8).

Validated like the device's: every error named, unknown keys refused, relative paths
taken from the config file's folder (a `sqlite:///` store path included). The store is
SQLite by default, or PostgreSQL (`postgresql://...`) through the same interface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from models.configschema import Key, validate_toml


class DistrictConfigError(Exception):
    """The config cannot be used; `errors` lists every problem found."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"config {path}: " + "; ".join(errors))


def _mqtt_url(value: str) -> str | None:
    parts = urlsplit(value)
    try:
        ok = parts.scheme in ("mqtt", "mqtts") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        ok = False
    return None if ok else "allowed: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"


def _topic_root(value: str) -> str | None:
    ok = re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", value)
    return None if ok else "allowed: topic levels without wildcards, e.g. cp/v1"


PG_SCHEMES = ("postgresql://", "postgres://")


def _store_url(value: str) -> str | None:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return None
    if value.startswith(PG_SCHEMES) and value.split("://", 1)[1]:
        return None     # libpq checks the rest when the receiver connects
    return ("allowed: sqlite:///PATH (relative to this file), sqlite:////ABSOLUTE/PATH "
            "or postgresql://USER@HOST[:PORT]/DATABASE")


SCHEMA: dict[str, dict[str, Key]] = {
    "mqtt": {"url": Key("str", "mqtt://127.0.0.1:1883", check=_mqtt_url),
             "root": Key("str", "cp/v1", check=_topic_root),
             "ca": Key("path"), "cert": Key("path"), "key": Key("path")},
    "store": {"url": Key("str", "sqlite:///district.db", check=_store_url)},
    "signing": {"root_key": Key("path"), "issuer_key": Key("path")},
}


@dataclass(frozen=True)
class DistrictConfig:
    path: Path
    mqtt_url: str
    root: str
    tls: dict | None
    store_url: str          # sqlite:////ABSOLUTE/PATH or postgresql://...
    db_path: Path | None    # the SQLite file; None for PostgreSQL
    signing: dict


def parse_district_config(text: str, path: Path) -> DistrictConfig:
    values, errors = validate_toml(text, SCHEMA, path.parent)
    if errors:
        raise DistrictConfigError(path, errors)
    mqtt = values["mqtt"]
    tls = {k: mqtt[k] for k in ("ca", "cert", "key") if mqtt[k]} or None
    store_url, db_path = values["store"]["url"], None
    if store_url.startswith("sqlite:///"):
        db_path = (path.parent / store_url.removeprefix("sqlite:///")).resolve()
        store_url = f"sqlite:///{db_path}"
    return DistrictConfig(path=path, mqtt_url=mqtt["url"], root=mqtt["root"], tls=tls,
                          store_url=store_url, db_path=db_path, signing=values["signing"])


def load_district_config(path: Path) -> DistrictConfig:
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DistrictConfigError(path, [f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise DistrictConfigError(path, ["not UTF-8 text"]) from None
    return parse_district_config(text, path)
