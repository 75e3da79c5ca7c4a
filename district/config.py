"""The district receiver's TOML configuration (`config/district.toml`, PROTOCOL.md section 8).

Validated like the device's: every error named, unknown keys refused, relative paths
taken from the config file's folder (a `sqlite:///` store path included). The store is
SQLite by default, or PostgreSQL (`postgresql://...`) through the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.configschema import Key, each, failover_problem, in_range, listen_address, mqtt_url
from models.wire import ROOT, topic_root_problem
from runtime import configfile

PG_SCHEMES = ("postgresql://", "postgres://")


def _store_url(value: str) -> str | None:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return None
    if value.startswith(PG_SCHEMES) and value.split("://", 1)[1]:
        return None     # libpq checks the rest when the receiver connects
    return ("allowed: sqlite:///PATH (relative to this file), sqlite:////ABSOLUTE/PATH "
            "or postgresql://USER@HOST[:PORT]/DATABASE")


SCHEMA: dict[str, dict[str, Key]] = {
    # failover: brokers tried in turn after `url` when it cannot be reached
    "mqtt": {"url": Key("str", "mqtt://127.0.0.1:1883", check=mqtt_url),
             "failover": Key("strs", [], check=each(mqtt_url)),
             "root": Key("str", ROOT, check=topic_root_problem),
             "ca": Key("path"), "cert": Key("path"), "key": Key("path")},
    # retention_days: `district partitions` drops the months older (PostgreSQL); none: keep
    "store": {"url": Key("str", "sqlite:///district.db", check=_store_url),
              "retention_days": Key("int", None, check=in_range(1, 36500))},
    "signing": {"root_key": Key("path"), "issuer_key": Key("path")},
    # optional: the receiver's Prometheus endpoint (district/metrics.py)
    "metrics": {"listen": Key("str", None, check=listen_address)},
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
    metrics_listen: str | None = None   # HOST:PORT of the Prometheus endpoint, if any
    failover: tuple[str, ...] = ()      # [mqtt] failover: tried in turn after mqtt_url
    retention_days: int | None = None   # [store] retention_days: months older are dropped

    @property
    def mqtt_urls(self) -> list[str]:
        """`[mqtt] url`, then the failover brokers: what a receiver tries, in turn."""
        return [self.mqtt_url, *self.failover]


def parse_district_config(text: str, path: Path) -> DistrictConfig:
    values = configfile.validated(text, path, SCHEMA)
    mqtt = values["mqtt"]
    if problem := failover_problem(mqtt["url"], mqtt["failover"]):
        raise configfile.ConfigError(path, [problem])
    tls = {k: mqtt[k] for k in ("ca", "cert", "key") if mqtt[k]} or None
    store_url, db_path = values["store"]["url"], None
    if store_url.startswith("sqlite:///"):
        db_path = (path.parent / store_url.removeprefix("sqlite:///")).resolve()
        store_url = f"sqlite:///{db_path}"
    return DistrictConfig(path=path, mqtt_url=mqtt["url"], root=mqtt["root"], tls=tls,
                          store_url=store_url, db_path=db_path, signing=values["signing"],
                          metrics_listen=values["metrics"]["listen"],
                          failover=tuple(mqtt["failover"]),
                          retention_days=values["store"]["retention_days"])


def load_district_config(path: Path) -> DistrictConfig:
    path, text = configfile.read_text(path)
    return parse_district_config(text, path)
