"""A new device, district side: its certificate, its broker rights, the folder to carry.

`checkpoint district add-device` signs a client certificate for the device (CN = device
id, as the production broker names clients) with the district's CA, adds the device to
the broker's dynamic-security file without touching anyone else's entry, and writes a
bundle folder whose names are the ones config/pi.toml and `checkpoint provision` use:

    tls/ca.pem  tls/device.pem  tls/device.key  root.pem [root-2.pem ...]
    trustlist.json  [revocations.json  policy.json  subject.key]  PROVISION.txt

A copy of the certificate is also left in the CA folder as DEVICE.pem, where
`scripts/make-test-ca.sh --revoke CA_DIR DEVICE` finds it; the private key is not.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from district.broker_acl import BrokerAclError, dynsec_config
from models.wire import ROOT, device_id_problem

DEFAULT_DAYS = 825
BUNDLE_TRUST = {"trustlist": "trustlist.json", "revocations": "revocations.json",
                "policy": "policy.json", "subject_key": "subject.key"}
SECRETS = ("tls/device.key", "subject.key")


class ProvisioningError(ValueError):
    """The device cannot be added as asked; the message says why."""


@dataclass(frozen=True)
class DistrictFiles:
    """What every gate of the district gets, besides its own certificate."""

    roots: tuple[Path, ...]
    trustlist: Path
    revocations: Path | None = None
    policy: Path | None = None
    subject_key: Path | None = None

    def copies(self) -> dict[str, Path]:
        names = ["root.pem"] + [f"root-{n}.pem" for n in range(2, len(self.roots) + 1)]
        copies = dict(zip(names, self.roots, strict=True))
        copies |= {BUNDLE_TRUST[name]: getattr(self, name) for name in BUNDLE_TRUST
                   if getattr(self, name) is not None}
        return copies


def load_ca(ca_dir: Path):
    """(certificate, private key) of the CA in `ca_dir` (ca.pem, ca-key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
        key_pem = (ca_dir / "ca-key.pem").read_bytes()
    except OSError as exc:
        raise ProvisioningError(f"CA {ca_dir}: cannot read {exc.filename}: "
                                f"{exc.strerror}") from None
    except ValueError:
        raise ProvisioningError(f"CA {ca_dir}/ca.pem: not a PEM certificate") from None
    try:
        key = load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise ProvisioningError(f"CA {ca_dir}/ca-key.pem is encrypted: sign with openssl "
                                "where the key is kept, or give an unencrypted copy") from None
    except ValueError:
        raise ProvisioningError(f"CA {ca_dir}/ca-key.pem: not a PEM private key") from None
    if key.public_key() != cert.public_key():
        raise ProvisioningError(f"CA {ca_dir}: ca-key.pem is not the key of ca.pem")
    return cert, key


def issue(device: str, ca_cert, ca_key, days: int = DEFAULT_DAYS) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM): a P-256 client certificate, CN = `device`, with
    the extensions scripts/make-test-ca.sh gives its client certificates."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))   # a clock a bit behind
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def with_device(rules: dict, device: str, root: str = ROOT) -> dict:
    """The dynamic-security file `rules` with `device`'s client and role added (or
    replaced, when it is there already); every other entry kept as it was."""
    try:
        entry = dynsec_config([device], root=root)
    except BrokerAclError as exc:
        raise ProvisioningError(str(exc)) from None
    client, role = entry["clients"][0], entry["roles"][0]
    if not isinstance(rules, dict) or not all(
            isinstance(rules.get(key), list) for key in ("clients", "roles")):
        raise ProvisioningError("not a dynamic-security file: no clients and roles lists")
    clients = [c for c in rules["clients"] if c.get("username") != device]
    roles = [r for r in rules["roles"] if r.get("rolename") != role["rolename"]]
    return {**rules, "clients": [*clients, client], "roles": [*roles, role]}


def updated_dynsec(path: Path, device: str, root: str = ROOT) -> tuple[bytes, bool]:
    """The file at `path` with `device` added, and whether the device was new to it;
    nothing is written (`replace_file` does, once everything else is ready)."""
    try:
        rules = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProvisioningError(f"dynsec file {path}: cannot read: {exc.strerror} (make it "
                                "with `checkpoint district broker-acl`)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProvisioningError(f"dynsec file {path}: not JSON: {exc}") from None
    try:
        updated = with_device(rules, device, root)
        new = not any(c.get("username") == device for c in rules["clients"])
    except (AttributeError, TypeError):
        raise ProvisioningError(f"dynsec file {path}: not a dynamic-security file") from None
    except ProvisioningError as exc:
        raise ProvisioningError(f"dynsec file {path}: {exc}") from None
    return (json.dumps(updated, indent=2) + "\n").encode(), new


def replace_file(path: Path, data: bytes, mode: int | None = None) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, path.stat().st_mode & 0o777 if mode is None else mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def provision_command(device: str, broker: str, files: DistrictFiles,
                      gate: str | None = None) -> str:
    """The `checkpoint provision` line to run at the gate, inside the bundle folder; the
    sensor, camera and relay are asked there (or given with their flags)."""
    words = ["checkpoint", "provision", "--device-id", device]
    words += ["--gate", gate] if gate else []
    words += ["--broker", broker, "--ca", "tls/ca.pem", "--cert", "tls/device.pem",
              "--key", "tls/device.key"]
    for name in files.copies():
        flag = "--root-key" if name.startswith("root") else \
            "--" + next(k for k, v in BUNDLE_TRUST.items() if v == name).replace("_", "-")
        words += [flag, name]
    return shlex.join(words)


def check_device(device: str) -> None:
    if problem := device_id_problem(device):
        raise ProvisioningError(f"device id {device!r}: {problem}")


def write_bundle(out: Path, cert_pem: bytes, key_pem: bytes, ca_pem: bytes,
                 files: DistrictFiles, command: str) -> list[str]:
    """The bundle folder `out` (which must not exist): staged beside it, then renamed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.bundle-"))
    try:
        (staging / "tls").mkdir()
        contents = {"tls/ca.pem": ca_pem, "tls/device.pem": cert_pem, "tls/device.key": key_pem}
        contents |= {name: _read(path) for name, path in files.copies().items()}
        contents["PROVISION.txt"] = (f"At the gate, inside this folder, as root:\n\n"
                                     f"    {command}\n").encode()
        for name, data in contents.items():
            (staging / name).write_bytes(data)
            (staging / name).chmod(0o600 if name in SECRETS else 0o644)
        staging.chmod(0o700)        # it holds the device's private key
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(contents)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProvisioningError(f"{path}: cannot read: {exc.strerror}") from None
