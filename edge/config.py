"""The device's TOML configuration (PROTOCOL.md section 8), validated at start.

`load_config` is what `checkpoint run` and `checkpoint config check` both call: every
error names the key, the bad value and what is allowed; unknown keys are refused; a
relative path is taken from the config file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from drivers import registry
from models.configschema import (
    Key,
    each,
    failover_problem,
    in_range,
    listen_address,
    mqtt_url,
)
from models.wire import ROOT, device_id_problem, topic_root_problem
from runtime import configfile
from runtime.configfile import ConfigError


def _driver_url(kind: str):
    """The same check the driver registry makes when `run` opens the driver."""
    def check(value: str) -> str | None:
        return "; ".join(registry.problems(kind, value)) or None
    return check


SCHEMA: dict[str, dict[str, Key]] = {
    "device": {"id": Key("str", required=True, check=device_id_problem),
               "gate": Key("str", required=True)},
    "camera": {"url": Key("str", "sim://", check=_driver_url("camera"))},
    "thermal": {"url": Key("str", "sim://",
                           check=_driver_url("thermal")),
                "offset_c": Key("float", 0.0, check=in_range(-5.0, 5.0)),
                "ambient_coeff": Key("float", 0.0, check=in_range(-1.0, 1.0)),
                "ambient_ref_c": Key("float", 25.0, check=in_range(-20.0, 50.0))},
    "gate": {"url": Key("str", "sim://", check=_driver_url("gate"))},
    # optional: no card reader when absent; a reader needs [trust] card_key (configcheck)
    "reader": {"url": Key("str", None, check=_driver_url("reader"))},
    "store": {"path": Key("path", required=True),
              "retention_days": Key("int", 30, check=in_range(1, 3650))},
    "trust": {"roots": Key("paths", required=True), "trustlist": Key("path", required=True),
              "revocations": Key("path"), "policy": Key("path"), "subject_key": Key("path"),
              "roster": Key("path"), "card_key": Key("path")},
    # failover: brokers tried in turn after `url` when it cannot be reached
    "mqtt": {"url": Key("str", "mqtt://127.0.0.1:1883", check=mqtt_url),
             "failover": Key("strs", [], check=each(mqtt_url)),
             "root": Key("str", ROOT, check=topic_root_problem),
             "ca": Key("path"), "cert": Key("path"), "key": Key("path")},
    "console": {"listen": Key("str", "127.0.0.1:8080", check=listen_address),
                "guards": Key("path"), "preview": Key("bool", False)},
    # off unless set: the endpoint answers anyone who can reach it (docs/observability.md)
    "metrics": {"listen": Key("str", None, check=listen_address)},
}


@dataclass(frozen=True)
class Section:
    """One table's values, read as attributes: `config.trust.roots`."""

    values: dict

    def __getattr__(self, name: str):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Config:
    path: Path
    device: Section
    camera: Section
    thermal: Section
    gate: Section
    reader: Section
    store: Section
    trust: Section
    mqtt: Section
    console: Section
    metrics: Section

    @property
    def mqtt_urls(self) -> list[str]:
        """`[mqtt] url`, then the failover brokers: what the uplink tries, in turn."""
        return [self.mqtt.url, *self.mqtt.failover]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def with_db(self, db: Path) -> Config:
        return replace(self, store=Section({**self.store.values, "path": db.resolve()}))

    def simulated(self) -> Config:
        """The same config with every hardware driver replaced by its simulated twin (a
        card reader only where one is configured)."""
        camera = self.camera.url if self.camera.url.startswith("sim://") else "sim://"
        reader = self.reader.url
        reader = reader if reader is None or reader.startswith("sim://") else "sim://"
        return replace(self, camera=Section({**self.camera.values, "url": camera}),
                       thermal=Section({**self.thermal.values, "url": "sim://"}),
                       gate=Section({**self.gate.values, "url": "sim://"}),
                       reader=Section({**self.reader.values, "url": reader}))


def parse_config(text: str, path: Path) -> Config:
    """The config in `text`, read from `path`; ConfigError naming every problem."""
    values = configfile.validated(text, path, SCHEMA)
    if problem := failover_problem(values["mqtt"]["url"], values["mqtt"]["failover"]):
        raise ConfigError(Path(path), [problem])
    return Config(path, **{table: Section(v) for table, v in values.items()})


def load_config(path: Path) -> Config:
    path, text = configfile.read_text(path)
    return parse_config(text, path)
