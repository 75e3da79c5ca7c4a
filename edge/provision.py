"""`checkpoint provision`'s work once the answers are known: check them, write the config.

The command line (cli/provision.py) gathers a Plan, by prompts or by flags; this module
checks every value, copies the district's files under the names the config names, writes
the config and runs `config check` on the result, all in a staging folder beside the
target: a folder that fails the check is deleted, so bad input writes nothing. Only then
are the files moved into place, the config itself last, so an interrupted run never
leaves a config naming files that are not there.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from drivers import registry
from models.configschema import mqtt_url
from models.wire import device_id_problem

CONFIG_NAME = "checkpoint.toml"
SERVICE_USER = "checkpoint"
DEFAULT_DB = Path("/var/lib/checkpoint/checkpoint.db")
DEFAULT_LISTEN = "127.0.0.1:8080"  # the kiosk browser is on the gate itself
# Where each district file goes in the config folder: the names config/pi.toml uses.
TLS_NAMES = {"ca": "tls/ca.pem", "cert": "tls/device.pem", "key": "tls/device.key"}
TRUST_NAMES = {"trustlist": "trustlist.json", "revocations": "revocations.json",
               "policy": "policy.json", "subject_key": "subject.key"}
SECRETS = ("tls/device.key", "subject.key")     # readable by the service user only
MAX_GATE_LEN = 64
PINS = range(0, 28)     # BCM numbers of the Raspberry Pi header's GPIOs


class ProvisionError(Exception):
    """The answers cannot make a working config; `problems` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Plan:
    device_id: str
    gate: str
    broker: str
    ca: Path
    cert: Path
    key: Path
    roots: tuple[Path, ...]
    trustlist: Path
    revocations: Path | None
    policy: Path | None
    subject_key: Path | None
    camera: str
    thermal: str
    relay: str              # the gate driver URL
    db: Path = DEFAULT_DB
    listen: str = DEFAULT_LISTEN


def gate_problem(gate: str) -> str | None:
    if not gate or len(gate) > MAX_GATE_LEN or not gate.isprintable():
        return f"allowed: 1 to {MAX_GATE_LEN} printable characters"
    return None


def pin_problem(text: str) -> str | None:
    ok = text.isdigit() and int(text) in PINS
    return None if ok else f"allowed: a BCM GPIO number, {PINS.start} to {PINS.stop - 1}"


def driver_problem(kind: str, url: str) -> str | None:
    return "; ".join(registry.problems(kind, url)) or None


def thermal_url(port: str, protocol: str, baud: str = "auto") -> str:
    """A serial device path, or a pyserial URL (socket://...), with our two options."""
    base = port if "://" in port else f"serial://{port}"
    return f"{base}{'&' if '?' in base else '?'}protocol={protocol}&baud={baud}"


def relay_url(pin: str, active_high: bool = True, pulse_s: float = 1.5) -> str:
    return f"gpio://{pin}?active_high={int(active_high)}&pulse={pulse_s:g}"


def camera_url(url: str, width: int, height: int, fps: float,
               pixel_format: str | None = None) -> str:
    """A camera URL asking for one of the modes the camera listed."""
    options = f"width={width}&height={height}&fps={fps:g}"
    options += f"&format={pixel_format}" if pixel_format else ""
    return f"{url}{'&' if '?' in url else '?'}{options}"


def problems(plan: Plan) -> list[str]:
    """Every value that is wrong on its own (the files' contents are checked later)."""
    found = []
    if problem := device_id_problem(plan.device_id):
        found.append(f"device id {plan.device_id!r}: {problem}")
    if problem := gate_problem(plan.gate):
        found.append(f"gate {plan.gate!r}: {problem}")
    if problem := mqtt_url(plan.broker):
        found.append(f"broker {plan.broker!r}: {problem}")
    elif not plan.broker.startswith("mqtts://"):
        found.append(f"broker {plan.broker!r}: the district's broker takes TLS: mqtts://")
    for kind, url in (("camera", plan.camera), ("thermal", plan.thermal),
                      ("gate", plan.relay)):
        if problem := driver_problem(kind, url):
            found.append(f"{kind} url {url!r}: {problem}")
    for what, path in _files(plan):
        if not path.is_file():
            found.append(f"{what} {path}: no such file")
        elif not os.access(path, os.R_OK):
            found.append(f"{what} {path}: not readable by this user")
    if not plan.roots:
        found.append("root keys: at least one is needed")
    if not found and (problem := _cn_problem(plan.cert, plan.device_id)):
        found.append(problem)
    return found


def _files(plan: Plan) -> list[tuple[str, Path]]:
    files = [("ca", plan.ca), ("cert", plan.cert), ("key", plan.key),
             *(("root key", root) for root in plan.roots), ("trustlist", plan.trustlist)]
    files += [(what.replace("_", " "), path) for what, path in
              (("revocations", plan.revocations), ("policy", plan.policy),
               ("subject_key", plan.subject_key)) if path is not None]
    return files


def _cn_problem(cert: Path, device_id: str) -> str | None:
    """The broker names a client by its certificate's CN: it must be this device's id."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        subject = x509.load_pem_x509_certificate(cert.read_bytes()).subject
    except (OSError, ValueError):
        return None     # config check names what is wrong with the file
    names = [attr.value for attr in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [device_id]:
        return (f"cert {cert}: its CN is {', '.join(map(str, names)) or 'missing'}, not the "
                f"device id {device_id!r}: the broker would give it another device's rights "
                "or none")
    return None


def root_names(count: int) -> list[str]:
    return ["root.pem"] + [f"root-{n}.pem" for n in range(2, count + 1)]


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    def escape(match: re.Match) -> str:
        char = match.group()
        named = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}
        return named.get(char) or f"\\u{ord(char):04x}"
    return '"' + re.sub(r'["\\\x00-\x1f\x7f]', escape, text) + '"'


def render(plan: Plan) -> str:
    """The config text: config/pi.toml's shape, with the district's files beside it."""
    trust = {name: TRUST_NAMES[name] for name in ("revocations", "policy", "subject_key")
             if getattr(plan, name) is not None}
    tables = {
        "device": {"id": plan.device_id, "gate": plan.gate},
        "camera": {"url": plan.camera},
        "thermal": {"url": plan.thermal, "offset_c": 0.0},
        "gate": {"url": plan.relay},
        "store": {"path": str(plan.db), "retention_days": 30},
        "trust": {"roots": root_names(len(plan.roots)), "trustlist": TRUST_NAMES["trustlist"],
                  **trust, "roster": "roster.json"},
        "mqtt": {"url": plan.broker, **TLS_NAMES},
        "console": {"listen": plan.listen},
    }
    lines = ["# Written by `checkpoint provision`; keys as documented in checkpoint.toml.",
             "# The district's files are beside this file; check it with",
             "# `checkpoint config check --config THIS_FILE`."]
    for table, keys in tables.items():
        lines += ["", f"[{table}]", *(f"{key} = {_value(v)}" for key, v in keys.items())]
    return "\n".join(lines) + "\n"


def _value(value) -> str:
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_string, value)) + "]"
    return repr(value)      # int, float: Python's repr is valid TOML for these


def stage(plan: Plan, folder: Path) -> None:
    """The config and copies of the district's files in `folder`, with their modes."""
    copies = {TLS_NAMES[name]: getattr(plan, name) for name in TLS_NAMES}
    copies |= dict(zip(root_names(len(plan.roots)), plan.roots, strict=True))
    copies |= {TRUST_NAMES[name]: getattr(plan, name) for name in TRUST_NAMES
               if getattr(plan, name) is not None}
    (folder / "tls").mkdir(mode=0o755)
    for name, source in copies.items():
        shutil.copyfile(source, folder / name)
        (folder / name).chmod(0o600 if name in SECRETS else 0o644)
    (folder / CONFIG_NAME).write_text(render(plan), encoding="utf-8")
    (folder / CONFIG_NAME).chmod(0o644)


def check_staged(folder: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) of `config check` on the staged config."""
    from edge.config import load_config
    from edge.configcheck import check
    from runtime.configfile import ConfigError

    try:
        config = load_config(folder / CONFIG_NAME)
    except ConfigError as exc:
        return list(exc.errors), []
    findings = check(config)
    return ([f.text for f in findings if f.level == "error"],
            [f.text for f in findings if f.level != "error"])


def write(plan: Plan, out: Path, *, force: bool = False,
          user: str = SERVICE_USER) -> tuple[list[str], list[str]]:
    """Write the config folder `out`; (files written, notes). ProvisionError, with
    nothing written, when a value or the resulting config is wrong."""
    if found := problems(plan):
        raise ProvisionError(found)
    if (out / CONFIG_NAME).exists() and not force:
        raise ProvisionError([f"{out / CONFIG_NAME} exists: give --force to replace it"])
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.provision-"))
    try:
        stage(plan, staging)
        errors, warnings = check_staged(staging)
        if errors:
            raise ProvisionError([f"config check: {error}" for error in errors])
        notes = [f"config check: warning: {text}" for text in warnings]
        notes += _own_secrets(staging, out, user)
        names = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
        _install(staging, out, names)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names, notes


def _own_secrets(folder: Path, out: Path, user: str) -> list[str]:
    """Give the secrets to the service user when we can; otherwise say what to do."""
    secrets = [name for name in SECRETS if (folder / name).exists()]
    where = " ".join(str(out / name) for name in secrets)
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return [f"{where}: mode 600, owned by {pwd.getpwuid(os.geteuid()).pw_name}: no user "
                f"{user!r} here yet (scripts/install-pi.sh creates it); then, as root: "
                f"chown {user}: {where}"]
    if os.geteuid() != 0:
        return [f"{where}: mode 600, owned by {pwd.getpwuid(os.geteuid()).pw_name}, not "
                f"{user!r}; as root: chown {user}: {where}"]
    for name in secrets:
        os.chown(folder / name, account.pw_uid, account.pw_gid)
    return []


def _install(staging: Path, out: Path, names: list[str]) -> None:
    """A new folder is one rename; into an existing one, file by file, the config last."""
    staging.chmod(0o755)
    if not out.exists():
        staging.rename(out)
        return
    (out / "tls").mkdir(mode=0o755, exist_ok=True)
    for name in sorted(names, key=lambda n: n == CONFIG_NAME):
        os.replace(staging / name, out / name)
