"""Everything `checkpoint run` will need from a config, checked at once.

The file's own rules (keys, types, ranges, driver URL options) are checked when it is
read (edge/config.py). This adds what lies outside the file: every file it names, read
as what it claims to be (root keys, signed bundles, the subject key, the TLS CA,
certificate and key, a scenario, a video, the card key), and the device nodes the drivers
will open.
A missing device node is only a warning: a technician may check a config on a laptop
before copying it to the gate. `config check` prints the findings; `run` refuses to
start on any error, so a config that passes the check is one that `run` can start with.
"""

from __future__ import annotations

import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from drivers import registry
from drivers.base import DriverError
from drivers.clock import SystemClock
from edge.config import Config
from edge.guards import GuardsError, read_guards
from edge.trust import TrustError, build_state, load_roots, read_bundle, read_subject_key
from models.cards import CardKeyError, read_card_key
from models.trust import MIN_SUBJECT_KEY_LEN


@dataclass(frozen=True)
class Finding:
    level: str      # "error" (run would refuse or fail) or "warning"
    text: str


def check(config: Config) -> list[Finding]:
    """Every problem `run` would meet with this config, errors first."""
    findings = [*_trust(config), *_tls(config), *_drivers(config), *_store(config),
                *_guards(config), *_metrics(config), *_reader(config)]
    return sorted(findings, key=lambda f: f.level != "error")


def _trust(config: Config) -> list[Finding]:
    trust, errors = config.trust, []
    roots = {}
    for path in trust.roots:
        try:
            roots.update(load_roots([path]))
        except TrustError as exc:
            errors.append(str(exc))
    bundles, sources = {}, {}
    for kind in ("trustlist", "revocations", "policy", "roster"):
        path = trust.values[kind]
        if path is None or (kind == "roster" and not Path(path).exists()):
            continue    # a roster file the district has not pushed yet is no error
        try:
            bundles[kind], sources[kind] = _bundle(path, kind, roots), path
        except TrustError as exc:
            errors.append(str(exc))
    if "trustlist" in bundles:
        try:
            build_state(roots, bundles, sources)
        except TrustError as exc:
            errors.append(str(exc))
    if trust.subject_key:
        errors += _subject_key(trust.subject_key)
    return [Finding("error", f"[trust] {text}") for text in errors]


def _reader(config: Config) -> list[Finding]:
    """A card reader needs the district's card key, readable and private: whoever holds
    it can tell which card a token is (PROTOCOL section 9). The URL itself was checked
    when the file was read."""
    url, path = config.reader.url, config.trust.card_key
    if url is None:
        return []
    findings = []
    device = registry.device_path("reader", url) or _hid_path(url)
    if device is not None and not device.exists():
        findings.append(Finding("warning", f"[reader] url = {url!r}: {device} is not "
                                           "present on this machine"))
    if path is None:
        return [*findings, Finding("error", "[trust] card_key: missing; a card reader is "
                                            "configured and its taps need the card key")]
    try:
        read_card_key(path)
    except CardKeyError as exc:
        return [*findings, Finding("error", f"[trust] {exc}")]
    mode = stat.S_IMODE(Path(path).stat().st_mode)
    if mode & 0o077:
        findings.append(Finding("warning", f"[trust] card key {path}: readable by group or "
                                           f"others (mode {mode:04o}); chmod 600 {path}"))
    return findings


def _hid_path(url: str) -> Path | None:
    spec = registry.parse("reader", url)
    return Path(spec.target) if spec.scheme == "hid" and spec.target else None


def _guards(config: Config) -> list[Finding]:
    path = config.console.guards
    if path is None:
        return []
    try:
        read_guards(path)
    except GuardsError as exc:
        return [Finding("error", f"[console] {exc}")]
    return []


def _metrics(config: Config) -> list[Finding]:
    """The metrics endpoint cannot share the console's port: `run` serves both."""
    listen = config.metrics.listen
    if listen is None:
        return []
    host, _, port = listen.rpartition(":")
    console_host, _, console_port = config.console.listen.rpartition(":")
    anywhere = {"0.0.0.0", "::", "[::]", ""}
    if port == console_port and (host == console_host or {host, console_host} & anywhere):
        return [Finding("error", f"[metrics] listen = {listen!r}: the console already "
                                 f"listens on {config.console.listen}; choose another port")]
    return []


def _bundle(path: Path, kind: str, roots: dict):
    if not roots:       # nothing to verify with: at least say whether the file is there
        if not Path(path).is_file():
            raise TrustError(f"{kind} {path}: no such file")
        raise TrustError(f"{kind} {path}: not verified (no usable root key)")
    return read_bundle(path, kind, roots)


def _subject_key(path: Path) -> list[str]:
    try:
        key = read_subject_key(path)
    except TrustError as exc:
        return [str(exc)]
    if len(key) < MIN_SUBJECT_KEY_LEN:
        return [f"subject key {path}: at least {MIN_SUBJECT_KEY_LEN} bytes needed"]
    return []


def _tls(config: Config) -> list[Finding]:
    """The CA, certificate and key as the MQTT client will load them."""
    mqtt = config.mqtt.values
    ca, cert, key = mqtt["ca"], mqtt["cert"], mqtt["key"]
    errors = []
    if (cert is None) != (key is None):
        errors.append("cert and key go together: give both or neither")
    missing = [f"{name} = {path}: no such file" for name, path in
               (("ca", ca), ("cert", cert), ("key", key)) if path and not Path(path).is_file()]
    errors += missing
    if not missing and (ca or cert):
        errors += _tls_loads(ca, cert, key)
    if mqtt["url"].startswith("mqtt://") and (ca or cert):
        errors.append("ca / cert / key are given but the url is mqtt://: use mqtts://")
    return [Finding("error", f"[mqtt] {text}") for text in errors]


def _tls_loads(ca: Path | None, cert: Path | None, key: Path | None) -> list[str]:
    context = ssl.create_default_context()
    errors = []
    if ca:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (ssl.SSLError, OSError, ValueError) as exc:
            errors.append(f"ca = {ca}: not a PEM CA certificate ({_ssl_reason(exc)})")
    if cert and key:
        try:
            context.load_cert_chain(str(cert), str(key))
        except (ssl.SSLError, OSError, ValueError) as exc:
            errors.append(f"cert = {cert}, key = {key}: not a PEM certificate and its "
                          f"private key ({_ssl_reason(exc)})")
    return errors


def _ssl_reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or str(exc) or type(exc).__name__


def _drivers(config: Config) -> list[Finding]:
    findings = []
    for kind in ("camera", "thermal", "gate"):
        url = getattr(config, kind).url
        device = registry.device_path(kind, url)
        if device is not None and not device.exists():
            findings.append(Finding("warning", f"[{kind}] url = {url!r}: {device} is not "
                                               "present on this machine"))
    findings += _camera_source(config)
    if registry.parse("gate", config.gate.url).scheme == "gpio":
        findings += _gpio()
    return findings


def _camera_source(config: Config) -> list[Finding]:
    """A video, folder or scenario the camera URL names must be there and readable."""
    from edge.agent import build_scene

    spec = registry.parse("camera", config.camera.url)
    if spec.scheme == "file" and not spec.path(config.base_dir).exists():
        return [Finding("error", f"[camera] url: {spec.path(config.base_dir)}: no such file "
                                 "or folder")]
    if spec.scheme == "sim":
        try:
            build_scene(config, SystemClock())
        except (DriverError, TypeError, ValueError) as exc:
            return [Finding("error", f"[camera] url: {exc}")]
    return []


def _gpio() -> list[Finding]:
    try:
        import gpiozero  # noqa: F401 - only whether it is installed
    except ImportError:
        return [Finding("error", "[gate] a gpio:// gate needs gpiozero: "
                                 "pip install 'checkpoint[gpio]'")]
    if not any(Path("/dev").glob("gpiochip*")):
        return [Finding("warning", "[gate] no /dev/gpiochip* on this machine")]
    return []


def _store(config: Config) -> list[Finding]:
    path = Path(config.store.path)
    if path.is_dir():
        return [Finding("error", f"[store] path = {path}: is a folder, not a file")]
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if folder is not None and not os.access(folder, os.W_OK):
        return [Finding("warning", f"[store] path = {path}: {folder} is not writable by "
                                   "this user")]
    return []
